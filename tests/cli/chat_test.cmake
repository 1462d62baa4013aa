# ctest chat_cli: pipes scripted conversations into `rwkv-cli chat` and checks (docs/cli.md):
# - greedy answers come back, /regen at temperature 0 repeats the answer;
# - the state carries the conversation: the second answer equals `rwkv-cli generate` at temperature 0
#   on the whole transcript as one prompt (so the chat never re-reads its history, and misses nothing);
# - /save, /reset, /load, then the same question: the same answer;
# - with a seed, /regen draws another answer, and the same seed gives the same chat;
# - a failed command is one error line on stderr, the chat goes on, and the exit status is its code;
#   bad options fail before the chat starts; --help lists the accepted values.
# cmake -DCLI=rwkv-cli -DMODEL=model.safetensors -DWORK=dir -P chat_test.cmake
cmake_minimum_required(VERSION 3.20)
file(MAKE_DIRECTORY ${WORK})
# The same sampling for chat and generate; the penalties are on, to cover them too (both count the
# answer's own tokens only).
set(sampling --temperature 0 --presence-penalty 0.5 --frequency-penalty 0.5 --penalty-decay 0.996
             --repeat-penalty 1.1 --repeat-last-n 16)
set(common --model ${MODEL} --threads 1 --max-tokens 40)

# chat(<stdin text> <out var> <err var> <rc var> args...)
function(chat input out_var err_var rc_var)
  file(WRITE ${WORK}/input.txt "${input}")
  execute_process(COMMAND ${CLI} chat ${ARGN} INPUT_FILE ${WORK}/input.txt WORKING_DIRECTORY ${WORK}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  set(${out_var} "${out}" PARENT_SCOPE)
  set(${err_var} "${err}" PARENT_SCOPE)
  set(${rc_var} "${rc}" PARENT_SCOPE)
endfunction()

# The text between the first `begin` at or after `from` and the next `end`; `from` moves past it.
function(between text begin end from_var result_var)
  string(SUBSTRING "${text}" ${${from_var}} -1 rest)
  string(FIND "${rest}" "${begin}" b)
  if(b LESS 0)
    message(FATAL_ERROR "'${begin}' not found in the chat output:\n${text}")
  endif()
  string(LENGTH "${begin}" n)
  math(EXPR b "${b} + ${n}")
  string(SUBSTRING "${rest}" ${b} -1 rest)
  string(FIND "${rest}" "${end}" e)
  if(e LESS 0)
    message(FATAL_ERROR "'${end}' not found after '${begin}' in the chat output:\n${text}")
  endif()
  string(SUBSTRING "${rest}" 0 ${e} found)
  math(EXPR next "${${from_var}} + ${b} + ${e}")
  set(${from_var} ${next} PARENT_SCOPE)
  set(${result_var} "${found}" PARENT_SCOPE)
endfunction()

function(expect_answer text)
  if(NOT text MATCHES "^[ \t\n]*[^ \t\n]")  # the model may start its answer on a new line
    message(FATAL_ERROR "expected an answer, got '${text}'")
  endif()
endfunction()

# ---- greedy: history in the state, /regen, /save + /reset + /load -------------------------------------
set(q1 "Hello! Who are you?")
set(q2 "What is bread made of?")
set(q3 "Tell me a story.")
chat("${q1}\n/regen\n${q2}\n/save chat_a.state\n${q3}\n/reset\n/load chat_a.state\n${q3}\n/quit\n"
     out err rc ${common} ${sampling})
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "chat exited with ${rc}: ${err}")
endif()
set(at 0)
between("${out}" "User: ${q1}\nAssistant:" "User: /regen\n" at a1)
between("${out}" "Assistant:" "User: ${q2}\n" at a1_again)
between("${out}" "User: ${q2}\nAssistant:" "User: /save chat_a.state\n" at a2)
between("${out}" "User: ${q3}\nAssistant:" "User: /reset\n" at a3)
between("${out}" "User: /load chat_a.state\n[state loaded from chat_a.state]\nUser: ${q3}\nAssistant:" "User: /quit\n"
        at a3_loaded)
expect_answer("${a1}")
expect_answer("${a2}")
expect_answer("${a3}")
if(NOT a1 STREQUAL a1_again)
  message(FATAL_ERROR "/regen at temperature 0 gave another answer:\n'${a1}'\n'${a1_again}'")
endif()
if(NOT a3 STREQUAL a3_loaded)
  message(FATAL_ERROR "after /save, /reset, /load the same question got another answer:\n'${a3}'\n'${a3_loaded}'")
endif()
if(NOT out MATCHES "\\[state saved to chat_a.state\\]\n" OR NOT out MATCHES "\\[conversation reset\\]\n")
  message(FATAL_ERROR "/save or /reset did not answer")
endif()

# The whole transcript as one prompt: generate must continue it with the chat's second answer.
execute_process(COMMAND ${CLI} generate --model ${MODEL} --threads 1 -n 40 ${sampling}
                        --prompt "User: ${q1}\n\nAssistant:${a1}User: ${q2}\n\nAssistant:"
                OUTPUT_VARIABLE generated ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "generate exited with ${rc}: ${err}")
endif()
string(REGEX REPLACE "\n+$" "" a2_text "${a2}")  # the turn's end (the chat's own or fed by it)
string(LENGTH "${a2_text}" n)
string(SUBSTRING "${generated}" 0 ${n} generated_prefix)
if(NOT generated_prefix STREQUAL a2_text)
  message(FATAL_ERROR "the chat's second answer differs from generate on the transcript:\nchat:     '${a2_text}'\n"
                      "generate: '${generated}'")
endif()

# ---- sampling: /regen draws anew; the same seed, the same chat ------------------------------------------
set(sampled --model ${MODEL} --threads 1 --max-tokens 24 --temperature 1 --top-p 1 --seed 7)
chat("${q1}\n/regen\n/regen\n/quit\n" out err rc ${sampled})
chat("${q1}\n/regen\n/regen\n/quit\n" again err2 rc2 ${sampled})
message("${out}")
if(NOT rc EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "sampled chat exited with ${rc}/${rc2}: ${err}${err2}")
endif()
if(NOT out STREQUAL again)
  message(FATAL_ERROR "the same seed gave another chat:\n${again}")
endif()
set(at 0)
between("${out}" "User: ${q1}\nAssistant:" "User: /regen\n" at s1)
between("${out}" "Assistant:" "User: /regen\n" at s2)
between("${out}" "Assistant:" "User: /quit\n" at s3)
if(s1 STREQUAL s2 AND s2 STREQUAL s3)
  message(FATAL_ERROR "/regen with sampling gave the same answer three times: '${s1}'")
endif()

# ---- errors ---------------------------------------------------------------------------------------------
function(expect_error_lines err count)
  string(REGEX MATCHALL "rwkv-cli: [^\n]*\n" lines "${err}")
  list(LENGTH lines n)
  string(REGEX MATCHALL "\n" newlines "${err}")
  list(LENGTH newlines all)
  if(NOT n EQUAL count OR NOT all EQUAL count)
    message(FATAL_ERROR "expected ${count} error line(s) on stderr, got:\n${err}")
  endif()
endfunction()

chat("/load no_such_file.state\n/frobnicate\n/save\n${q1}\n/quit\n" out err rc ${common} ${sampling})
if(NOT rc EQUAL 3)  # the first error's code: a missing file (docs/errors.md)
  message(FATAL_ERROR "a failed /load should end the chat with 3, got ${rc}: ${err}")
endif()
expect_error_lines("${err}" 3)
set(at 0)
between("${out}" "User: ${q1}\nAssistant:" "User: /quit\n" at answer)
expect_answer("${answer}")
if(NOT err MATCHES "no_such_file\\.state" OR NOT err MATCHES "/frobnicate")
  message(FATAL_ERROR "errors not reported:\n${err}")
endif()

# A state of another model: refused (state error, 7), and the chat goes on.
execute_process(COMMAND ${CLI} init --arch v6 --n-embd 64 --n-layer 1 --vocab 256 --tokenizer bytes
                        --out ${WORK}/v6.safetensors RESULT_VARIABLE rc)
chat("/load chat_a.state\n${q1}\n/quit\n" out err rc --model ${WORK}/v6.safetensors --threads 1 --max-tokens 8)
if(NOT rc EQUAL 7 OR NOT out MATCHES "User: /quit\n")
  message(FATAL_ERROR "loading another model's state: expected exit 7 at the end, got ${rc}:\n${out}\n${err}")
endif()
expect_error_lines("${err}" 1)

foreach(bad "--temperature;-1" "--precision;int3" "--backend;gpu" "--max-tokens;0" "--top-p;0")
  chat("${q1}\n" out err rc ${common} ${bad})
  if(NOT rc EQUAL 2 OR NOT out STREQUAL "")
    message(FATAL_ERROR "chat ${bad}: expected exit 2 and no output, got ${rc}:\n${out}${err}")
  endif()
  expect_error_lines("${err}" 1)
endforeach()
chat("${q1}\n" out err rc --model ${WORK}/missing.safetensors)
if(NOT rc EQUAL 3)
  message(FATAL_ERROR "chat with a missing model: expected exit 3, got ${rc}: ${err}")
endif()
expect_error_lines("${err}" 1)

execute_process(COMMAND ${CLI} chat --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
foreach(expected "f32" "bf16" "int4" "reference" "--repeat-penalty" "--min-p" "/regen")
  string(FIND "${help}" "${expected}" found)
  if(found LESS 0)
    message(FATAL_ERROR "chat --help does not mention ${expected}:\n${help}")
  endif()
endforeach()

# ctest: pipes test_input.txt into the chat and checks that every turn and command answered, and that
# a second run with the same seed says the same.
# cmake -DPROGRAM=... -DMODEL=... -DINPUT=... -DWORK=... -P test_chat.cmake
function(chat result)
  execute_process(COMMAND ${PROGRAM} ${MODEL} --system "You are a friendly assistant." --max-tokens 40 --seed 7
                  INPUT_FILE ${INPUT} WORKING_DIRECTORY ${WORK}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "chat exited with ${rc}:\n${out}\n${err}")
  endif()
  set(${result} "${out}" PARENT_SCOPE)
endfunction()

chat(out)
message("${out}")
chat(again)
if(NOT out STREQUAL again)
  message(FATAL_ERROR "the same seed and input gave another chat:\n${again}")
endif()
foreach(expected
        # an answer follows the first question (the fortunes model often starts it on a new, indented line)
        "User: Hello! Who are you\\?\nAssistant:\n?[ \t]*[^ \t\n]"
        "\\[state saved to chat_test.state\\]"
        "\\[state loaded from chat_test.state\\]"
        "\\[error: [^\n]*no_such_file.state"          # a bad file is reported, and the chat goes on
        "\\[conversation reset\\]"
        "User: Tell me a story.\nAssistant:\n?[ \t]*[^ \t\n]")
  if(NOT out MATCHES "${expected}")
    message(FATAL_ERROR "chat output does not match '${expected}'")
  endif()
endforeach()

# ctest: the teaching example on the five golden models (RWKV-4, 5.2, 6, 7, GoldFinch). Checks that
# every section prints, that every traced step names a call site in rwkv/models/ or rwkv/ops/ with
# the comment (equation) above it, and that each traced run's logits equal the reference backend's
# bit for bit. The program itself prints "SKIPPED: ..." when the golden models are absent.
# cmake -DPROGRAM=... -DGOLDEN=... -P test_teaching.cmake
execute_process(COMMAND ${PROGRAM} --golden ${GOLDEN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(out MATCHES "SKIPPED:")
  message("${out}")
  return()
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the example exited with ${rc}:\n${out}\n${err}")
endif()

foreach(title "RWKV-4" "RWKV-5\\.2" "RWKV-6" "RWKV-7" "GoldFinch")
  if(NOT out MATCHES "\n==== ${title} \\([^)]+\\): block 0, token [0-9]+ ====\n")
    message(FATAL_ERROR "no section for ${title}:\n${out}")
  endif()
  if(NOT out MATCHES "\n${title}: [0-9]+ traced steps in block 0 [^\n]* EQUAL the reference backend's bit for bit")
    message(FATAL_ERROR "${title}: the traced logits are not bitwise those of the reference backend:\n${out}")
  endif()
endforeach()

string(REGEX MATCHALL "\n\\[[0-9]+\\] [^\n]*" steps "${out}")
list(LENGTH steps n_steps)
if(n_steps LESS 50)
  message(FATAL_ERROR "only ${n_steps} traced steps in all five sections:\n${out}")
endif()
foreach(s IN LISTS steps)
  if(NOT s MATCHES " rwkv/(models|ops)/[a-z0-9_]+\\.hpp:[0-9]+$")
    message(FATAL_ERROR "a step without a call site in rwkv/models/ or rwkv/ops/: '${s}'")
  endif()
endforeach()
string(REGEX MATCHALL "\n    eq:   [^\n(]" equations "${out}")
list(LENGTH equations n_equations)
if(NOT n_equations EQUAL n_steps)
  message(FATAL_ERROR "${n_equations} equations found for ${n_steps} steps:\n${out}")
endif()
message("${n_steps} steps, each with its call site and equation; five sections bitwise equal to the reference")

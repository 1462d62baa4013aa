# ctest: the embeddings example on the golden random-weight EmbeddingRWKV model and its reranker.
# Random weights rank nothing meaningfully, so this checks what holds for any model: a document equal
# to the query is first with cosine 1, reranker scores are probabilities, one thread and two threads
# print the same bytes, and bad input is an error, not a crash.
# cmake -DPROGRAM=... -DSHARED=... -P test_embeddings.cmake
set(emb ${SHARED}/golden/emb-c128-l2.bf16.pth)
set(rr ${SHARED}/golden/emb-c128-l2-reranker.safetensors)
set(vocab ${SHARED}/data/rwkv_vocab_v20230424.txt)
foreach(f ${emb} ${rr} ${vocab})
  if(NOT EXISTS ${f})
    message("SKIPPED: ${f} is absent (the shared test data beside the project)")
    return()
  endif()
endforeach()

set(query "Which sentence is about a young cat?")
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/embeddings_docs.txt
     "The recipe needs two eggs.\n${query}\nA kitten is a young cat.\n")
function(run result threads)
  execute_process(COMMAND ${PROGRAM} ${emb} ${vocab} --reranker ${rr} --query "${query}" --threads ${threads}
                          --docs ${CMAKE_CURRENT_BINARY_DIR}/embeddings_docs.txt
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the example exited with ${rc}:\n${out}\n${err}")
  endif()
  set(${result} "${out}" PARENT_SCOPE)
endfunction()

run(one 1)
message("${one}")
if(NOT one MATCHES "by cosine similarity of 128-dimensional embeddings:\n  1\\. \\+1\\.0000  Which sentence is about a young cat\\?\n")
  message(FATAL_ERROR "the document equal to the query is not first with cosine 1")
endif()
string(REGEX MATCHALL "\n  [0-9]\\. [01]\\.[0-9][0-9][0-9][0-9]  " scores "${one}")
list(LENGTH scores n)
if(NOT one MATCHES "reranked" OR NOT n EQUAL 3)
  message(FATAL_ERROR "expected three reranker scores in [0, 1], found ${n}")
endif()
run(two 2)
if(NOT one STREQUAL two)
  message(FATAL_ERROR "two threads printed another result:\n${two}")
endif()

execute_process(COMMAND ${PROGRAM} ${emb} ${vocab} --docs /nonexistent/docs.txt
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 1 OR NOT err MATCHES "error: /nonexistent/docs.txt: cannot open")
  message(FATAL_ERROR "a missing documents file gave rc ${rc}: ${err}")
endif()

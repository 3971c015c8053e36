# Programs that talk to locks link the protocol's client library and the log
# format, never the engine or the flash store (issue 9 item 7). For each such
# program this writes the libraries CMake links into it (transitively) to
# <build>/link-closure/<program>.txt and registers a test that checks that
# list and the built program's symbols (scripts/check_no_engine).
function(mortise_link_closure target out_var)
  set(seen "")
  set(queue ${target})
  while(queue)
    list(POP_FRONT queue t)
    if(NOT TARGET ${t} OR t IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(type ${t} TYPE)
    set(deps "")
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(direct ${t} LINK_LIBRARIES)
      if(direct)
        list(APPEND deps ${direct})
      endif()
    endif()
    get_target_property(iface ${t} INTERFACE_LINK_LIBRARIES)
    if(iface)
      list(APPEND deps ${iface})
    endif()
    foreach(d ${deps})
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" d "${d}")
      list(APPEND queue ${d})
    endforeach()
  endwhile()
  list(REMOVE_ITEM seen ${target})
  set(${out_var} ${seen} PARENT_SCOPE)
endfunction()

function(mortise_check_no_engine program)
  if(NOT TARGET ${program} OR NOT MORTISE_TESTS)
    return()
  endif()
  mortise_link_closure(${program} closure)
  string(REPLACE ";" "\n" text "${closure}")
  file(WRITE ${CMAKE_BINARY_DIR}/link-closure/${program}.txt "${text}\n")
  add_test(NAME ${program}_links_no_engine
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/check_no_engine $<TARGET_FILE:${program}>
            ${CMAKE_BINARY_DIR}/link-closure/${program}.txt)
  set_tests_properties(${program}_links_no_engine PROPERTIES LABELS "unit;portability")
endfunction()

mortise_check_no_engine(mortise)          # the CLI
mortise_check_no_engine(mortise-server)   # the management server

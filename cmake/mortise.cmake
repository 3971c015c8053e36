# Shared build rules for Mortise modules.

# The project's own code builds warning-free.
function(mortise_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow)
endfunction()

# Portable modules run on a microcontroller: no exceptions, no RTTI, no heap,
# no OS. The heap part is checked after the build by scripts/check_portable.
function(mortise_portable target)
  mortise_warnings(${target})
  target_compile_options(${target} PRIVATE -fno-exceptions -fno-rtti)
  set_property(GLOBAL APPEND PROPERTY MORTISE_PORTABLE_TARGETS ${target})
endfunction()

# A GoogleTest executable registered with CTest. Extra arguments: LABELS ... LIBS ...
function(mortise_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  mortise_warnings(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  set(labels unit ${T_LABELS})
  # gtest_discover_tests flattens a list given in PROPERTIES, so only the first
  # label would arrive; label the tests from an include file that runs after
  # discovery's own.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_LIST ${name}_TESTS)
  set(label_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/test_labels.cmake.in ${label_file} @ONLY)
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${label_file})
endfunction()

# A libFuzzer target. In the fuzz preset (MORTISE_FUZZ) this builds the fuzzer
# `<name>`; in test builds it builds `<name>_replay`, which feeds every file of
# the checked-in corpus to the same entry point, and registers it with CTest
# (label fuzz-corpus), so the corpus runs as a unit test under every preset.
#   mortise_fuzzer(name SOURCES f.cc LIBS lib... CORPUS dir)
function(mortise_fuzzer name)
  cmake_parse_arguments(F "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  if(MORTISE_FUZZ)
    add_executable(${name} ${F_SOURCES})
    mortise_warnings(${name})
    target_link_libraries(${name} PRIVATE ${F_LIBS})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    set_property(GLOBAL APPEND PROPERTY MORTISE_FUZZERS "${name}=${F_CORPUS}")
    # The fuzz preset builds this target alone: the fuzzers and what they
    # link, nothing else of the tree (CMakePresets.json).
    if(NOT TARGET mortise_fuzzers)
      add_custom_target(mortise_fuzzers)
    endif()
    add_dependencies(mortise_fuzzers ${name})
    set(list_file ${CMAKE_BINARY_DIR}/fuzzers.txt)
    get_property(all GLOBAL PROPERTY MORTISE_FUZZERS)
    string(REPLACE ";" "\n" all "${all}")
    file(WRITE ${list_file} "${all}\n")
  elseif(MORTISE_TESTS)
    add_executable(${name}_replay ${F_SOURCES} ${PROJECT_SOURCE_DIR}/base/fuzz_replay_main.cc)
    mortise_warnings(${name}_replay)
    target_link_libraries(${name}_replay PRIVATE ${F_LIBS})
    add_test(NAME ${name}_corpus COMMAND ${name}_replay ${F_CORPUS})
    set_tests_properties(${name}_corpus PROPERTIES LABELS "fuzz-corpus;attack")
  endif()
endfunction()

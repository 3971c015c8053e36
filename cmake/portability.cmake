# Checks that the portable modules keep their promise (no heap, no
# exceptions, no RTTI), beyond the per-module nm tests (*_portability_nm):
#   check_portable_self_test   the checker catches every forbidden symbol, in
#                              the x86-64 and the ARM manglings, and the
#                              forbidden source patterns
#   portable_sources_rules     no throwing string slicing and no direct
#                              mbedTLS config include in portable sources
#   portable_cortex_m4_nm      (when arm-none-eabi-g++ is installed) every
#                              portable target's objects cross-built for a
#                              Cortex-M4 at -Os, checked with the target's nm
if(NOT MORTISE_TESTS)
  return()
endif()
add_test(NAME check_portable_self_test
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/check_portable_test ${CMAKE_BINARY_DIR}/check_portable_test)
set_tests_properties(check_portable_self_test PROPERTIES LABELS "unit;portability" ENVIRONMENT "CC=${CMAKE_C_COMPILER}")

set(portable_source_dirs)
foreach(module base crypto core store protocol)
  foreach(sub public src)
    if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/${module}/${sub})
      list(APPEND portable_source_dirs ${PROJECT_SOURCE_DIR}/${module}/${sub})
    endif()
  endforeach()
endforeach()
add_test(NAME portable_sources_rules
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/check_portable --sources ${portable_source_dirs})
set_tests_properties(portable_sources_rules PROPERTIES LABELS "unit;portability")

find_program(MORTISE_ARM_CXX arm-none-eabi-g++)
find_program(MORTISE_ARM_NM arm-none-eabi-nm)
find_package(Python3 COMPONENTS Interpreter)
if(MORTISE_ARM_CXX AND MORTISE_ARM_NM AND Python3_FOUND AND NOT MORTISE_FUZZ)
  get_property(portable_targets GLOBAL PROPERTY MORTISE_PORTABLE_TARGETS)
  # The capacity variants compile the same sources as mortise_core.
  list(REMOVE_ITEM portable_targets mortise_core_small mortise_core_large)
  list(REMOVE_DUPLICATES portable_targets)
  add_test(NAME portable_cortex_m4_nm
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/check_portable_cross
            ${CMAKE_BINARY_DIR} ${CMAKE_BINARY_DIR}/cortex-m4 ${portable_targets})
  set_tests_properties(portable_cortex_m4_nm PROPERTIES LABELS "unit;portability" TIMEOUT 600)
else()
  message(STATUS "portable_cortex_m4_nm: not registered (install gcc-arm-none-eabi, libnewlib-arm-none-eabi, libstdc++-arm-none-eabi-newlib)")
endif()

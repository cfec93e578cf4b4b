# TaskscopeInstall.cmake — install rules and the packages consumers use:
#   - libtaskscope.so (SONAME libtaskscope.so.0) and libtaskscope.a,
#   - the public headers include/taskscope/*.h,
#   - a CMake package: find_package(taskscope CONFIG REQUIRED) then
#     target_link_libraries(app taskscope::taskscope) (or ::taskscope_static),
#   - taskscope.pc for `pkg-config --cflags --libs taskscope`.
# Included once from the top-level CMakeLists.txt, after the targets exist.
# Checked by tests/packaging (CONVENTIONS.md §4 and §6 item 20).
#
# Components: Runtime (the versioned .so only) and Development (everything
# else), so `cmake --install build --component Runtime` gives a runtime-only
# tree as a Debian libtaskscope0 package would.
#
# The exported targets are taskscope and taskscope_static only. Both take
# their code from the OBJECT library taskscope_objects through
# $<TARGET_OBJECTS>, which is not a link dependency, so the export set does
# not (and must not) mention taskscope_objects.
#
# Hook for later dependencies: a static consumer needs the pkg-config modules
# libtaskscope.a uses (libdw, libunwind, ...). Whoever adds one appends it:
#   set_property(GLOBAL APPEND PROPERTY TASKSCOPE_PC_REQUIRES_PRIVATE libdw)
# and it lands in taskscope.pc's Requires.private. (Such a dependency must
# also be found by taskscopeConfig.cmake: see cmake/taskscopeConfig.cmake.in.)

include(CMakePackageConfigHelpers)

set(TS_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/taskscope)
set(TS_GEN_DIR ${PROJECT_BINARY_DIR}/packaging)

# --- libraries and headers ---------------------------------------------------
install(TARGETS taskscope taskscope_static
  EXPORT taskscopeTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT Runtime
    NAMELINK_COMPONENT Development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT Development)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/taskscope
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT Development
  FILES_MATCHING PATTERN "*.h")

# --- CMake package -----------------------------------------------------------
install(EXPORT taskscopeTargets
  NAMESPACE taskscope::
  FILE taskscopeTargets.cmake
  DESTINATION ${TS_INSTALL_CMAKEDIR}
  COMPONENT Development)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/taskscopeConfig.cmake.in
  ${TS_GEN_DIR}/taskscopeConfig.cmake
  INSTALL_DESTINATION ${TS_INSTALL_CMAKEDIR})

# 0.x: any 0.y satisfies a request for 0.z with y >= z. The ABI promise is
# the SONAME (major) in runtime/CMakeLists.txt; keep the two in step.
write_basic_package_version_file(
  ${TS_GEN_DIR}/taskscopeConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)

install(FILES
    ${TS_GEN_DIR}/taskscopeConfig.cmake
    ${TS_GEN_DIR}/taskscopeConfigVersion.cmake
  DESTINATION ${TS_INSTALL_CMAKEDIR}
  COMPONENT Development)

# --- pkg-config --------------------------------------------------------------
# The prefix is only known at install time (`cmake --install --prefix P`
# overrides the configured one), so the .pc is made in two steps: at
# configure time everything but the prefix is filled in; at install time the
# real prefix, giving plain absolute paths as distribution .pc files have.
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(TS_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(TS_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()

get_property(_ts_pc_requires GLOBAL PROPERTY TASKSCOPE_PC_REQUIRES_PRIVATE)
if(_ts_pc_requires)
  list(REMOVE_DUPLICATES _ts_pc_requires)
  list(JOIN _ts_pc_requires " " _ts_pc_requires)
  set(TS_PC_REQUIRES_PRIVATE_LINE "Requires.private: ${_ts_pc_requires}")
else()
  set(TS_PC_REQUIRES_PRIVATE_LINE "")
endif()

set(TS_PC_PREFIX "@TS_PC_PREFIX@")   # left for the install-time step
configure_file(${CMAKE_CURRENT_LIST_DIR}/taskscope.pc.in
  ${TS_GEN_DIR}/taskscope.pc.stage @ONLY)

install(CODE "
  set(TS_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${TS_GEN_DIR}/taskscope.pc.stage\"
                 \"${TS_GEN_DIR}/taskscope.pc\" @ONLY)
" COMPONENT Development)
install(FILES ${TS_GEN_DIR}/taskscope.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT Development)

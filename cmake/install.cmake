# Installing and packaging.
#
#   cmake --install build/release --prefix /opt/raft     headers, libraries, raftd,
#                                                        raftctl, CMake package config
#   cd build/release && cpack                            raftd_<v>_amd64.deb (raftd, raftctl)
#
# Another project then uses the library with
#   find_package(raft 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE raft::raft)
# (examples/ builds exactly so; tests/install proves it against an installed tree).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# raft::raft, the one target users link: the runtime node with its default storage
# and transport, and the public headers. The generated protobuf header the public
# headers include ("proto/raft.pb.h") is installed under raft/detail.
add_library(raft INTERFACE)
add_library(raft::raft ALIAS raft)
target_link_libraries(raft INTERFACE raft_node)
target_include_directories(raft INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/raft/detail>)

set(RAFT_INSTALLED_LIBRARIES raft_node raft_core raft_util raft_storage raft_transport raft_transport_codec raft_proto)
install(TARGETS raft ${RAFT_INSTALLED_LIBRARIES} EXPORT raftTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY include/raft DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(FILES ${PROJECT_BINARY_DIR}/proto/raft.pb.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/raft/detail/proto COMPONENT dev)

set(RAFT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/raft)
install(EXPORT raftTargets NAMESPACE raft:: DESTINATION ${RAFT_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(cmake/raftConfig.cmake.in ${PROJECT_BINARY_DIR}/raftConfig.cmake
  INSTALL_DESTINATION ${RAFT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/raftConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/raftConfig.cmake ${PROJECT_BINARY_DIR}/raftConfigVersion.cmake
  DESTINATION ${RAFT_CMAKE_DIR} COMPONENT dev)

install(TARGETS raftd raftctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)

# CPack: a .deb of the server component (raftd and raftctl).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME raftd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "raft maintainers <raft@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "raftd, a replicated key-value server built on the raft library, and raftctl")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
include(CPack)

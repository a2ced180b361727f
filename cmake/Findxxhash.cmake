# Findxxhash.cmake - locate the xxHash library (https://github.com/Cyan4973/xxHash).
#
# Distributions such as Debian ship xxHash (libxxhash-dev) without a CMake
# package configuration, only a pkg-config file, so Foundry carries this module.
# It is installed next to foundryConfig.cmake and used by it as well.
#
# Imported target:
#   xxhash::xxhash        - include directory and library
#
# Result variables:
#   xxhash_FOUND          - TRUE when header and library were found
#   xxhash_INCLUDE_DIRS   - directory holding xxhash.h
#   xxhash_LIBRARIES      - the library to link
#   xxhash_VERSION        - version parsed from xxhash.h (e.g. 0.8.1)
#
# Cache variables (may be set by the user to point at a custom install):
#   xxhash_INCLUDE_DIR, xxhash_LIBRARY

# pkg-config, when available, only provides search hints.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_xxhash QUIET libxxhash)
endif()

find_path(xxhash_INCLUDE_DIR
  NAMES xxhash.h
  HINTS ${PC_xxhash_INCLUDEDIR} ${PC_xxhash_INCLUDE_DIRS})

find_library(xxhash_LIBRARY
  NAMES xxhash libxxhash
  HINTS ${PC_xxhash_LIBDIR} ${PC_xxhash_LIBRARY_DIRS})

if(xxhash_INCLUDE_DIR AND EXISTS "${xxhash_INCLUDE_DIR}/xxhash.h")
  file(STRINGS "${xxhash_INCLUDE_DIR}/xxhash.h" _xxhash_version_lines
    REGEX "^#define XXH_VERSION_(MAJOR|MINOR|RELEASE)[ \t]+[0-9]+")
  foreach(_part IN ITEMS MAJOR MINOR RELEASE)
    string(REGEX REPLACE ".*#define XXH_VERSION_${_part}[ \t]+([0-9]+).*" "\\1"
      _xxhash_${_part} "${_xxhash_version_lines}")
  endforeach()
  set(xxhash_VERSION "${_xxhash_MAJOR}.${_xxhash_MINOR}.${_xxhash_RELEASE}")
  unset(_xxhash_version_lines)
  unset(_xxhash_MAJOR)
  unset(_xxhash_MINOR)
  unset(_xxhash_RELEASE)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(xxhash
  REQUIRED_VARS xxhash_LIBRARY xxhash_INCLUDE_DIR
  VERSION_VAR xxhash_VERSION)

if(xxhash_FOUND)
  set(xxhash_INCLUDE_DIRS "${xxhash_INCLUDE_DIR}")
  set(xxhash_LIBRARIES "${xxhash_LIBRARY}")
  if(NOT TARGET xxhash::xxhash)
    add_library(xxhash::xxhash UNKNOWN IMPORTED)
    set_target_properties(xxhash::xxhash PROPERTIES
      IMPORTED_LOCATION "${xxhash_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${xxhash_INCLUDE_DIR}")
  endif()
endif()

mark_as_advanced(xxhash_INCLUDE_DIR xxhash_LIBRARY)

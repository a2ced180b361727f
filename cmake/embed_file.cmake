# embed_file.cmake - turn one text file into a C++ header holding its contents.
#
# Run in script mode at build time (see FoundryEmbed.cmake):
#   cmake -DINPUT=<file> -DOUTPUT=<header> -DNAMESPACE=<ns> -DNAME=<identifier>
#         [-DSOURCE_LABEL=<text>] [-DCHUNK_SIZE=<bytes>] -P embed_file.cmake
#
# The header defines
#   namespace <ns> {
#   inline constexpr std::string_view <NAME> = R"foundry_src(...)foundry_src" ...;
#   inline constexpr std::string_view <NAME>_file = "<SOURCE_LABEL>";
#   }
# The text is split into several adjacent raw string literals of at most
# CHUNK_SIZE bytes (default 16000, cut at line ends where possible) so that no
# single literal exceeds the string-literal limits of common compilers.
# Adjacent literals are concatenated by the compiler, so the value is the exact
# byte sequence of the file.

cmake_minimum_required(VERSION 3.21)

foreach(_required IN ITEMS INPUT OUTPUT NAMESPACE NAME)
  if(NOT DEFINED ${_required} OR "${${_required}}" STREQUAL "")
    message(FATAL_ERROR "embed_file.cmake: -D${_required}=... is required")
  endif()
endforeach()
if(NOT DEFINED SOURCE_LABEL OR "${SOURCE_LABEL}" STREQUAL "")
  get_filename_component(SOURCE_LABEL "${INPUT}" NAME)
endif()
if(NOT DEFINED CHUNK_SIZE OR CHUNK_SIZE LESS 64)
  set(CHUNK_SIZE 16000)
endif()

set(_delim "foundry_src")
file(READ "${INPUT}" _content)

string(FIND "${_content}" ")${_delim}\"" _clash)
if(NOT _clash EQUAL -1)
  message(FATAL_ERROR
    "embed_file.cmake: ${SOURCE_LABEL} contains the raw-string terminator "
    "')${_delim}\"' and cannot be embedded")
endif()
string(FIND "${_content}" "\r" _cr)
if(NOT _cr EQUAL -1)
  # Compilers normalise CR LF to LF inside raw string literals, so the embedded
  # text would silently differ from the file.
  message(FATAL_ERROR
    "embed_file.cmake: ${SOURCE_LABEL} contains carriage returns; "
    "store kernel sources with LF line endings")
endif()

# Split into chunks; string(LENGTH/SUBSTRING) work on bytes.
set(_literals "")
string(LENGTH "${_content}" _remaining)
set(_chunks 0)
while(_remaining GREATER 0)
  if(_remaining GREATER CHUNK_SIZE)
    string(SUBSTRING "${_content}" 0 ${CHUNK_SIZE} _chunk)
    string(FIND "${_chunk}" "\n" _last_nl REVERSE)
    if(_last_nl GREATER 0)
      math(EXPR _take "${_last_nl} + 1")
      string(SUBSTRING "${_content}" 0 ${_take} _chunk)
    else()
      set(_take ${CHUNK_SIZE})
    endif()
  else()
    set(_chunk "${_content}")
    set(_take ${_remaining})
  endif()
  string(APPEND _literals "    R\"${_delim}(${_chunk})${_delim}\"\n")
  string(SUBSTRING "${_content}" ${_take} -1 _content)
  math(EXPR _remaining "${_remaining} - ${_take}")
  math(EXPR _chunks "${_chunks} + 1")
endwhile()
if(_chunks EQUAL 0)
  set(_literals "    \"\"\n")
endif()

# C++ only guarantees string literals of 65536 bytes (after concatenation);
# GCC and Clang accept longer ones but warn under -Wpedantic.
string(LENGTH "${_literals}" _literal_bytes)
set(_push "")
set(_pop "")
if(_literal_bytes GREATER 65000)
  set(_push "#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored \"-Woverlength-strings\"
#endif
")
  set(_pop "#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
")
endif()

string(REPLACE "\\" "/" _label "${SOURCE_LABEL}")
string(REPLACE "\"" "\\\"" _label "${_label}")

set(_header "// Generated from ${_label} by cmake/embed_file.cmake. Do not edit.
// Source file: ${_label} (${_chunks} raw string literal(s))
#pragma once

#include <string_view>

namespace ${NAMESPACE} {

${_push}/// Contents of ${_label}.
inline constexpr std::string_view ${NAME} =
${_literals};
${_pop}
/// Path of the embedded file, relative to the project root.
inline constexpr std::string_view ${NAME}_file = \"${_label}\";

}  // namespace ${NAMESPACE}
")

file(WRITE "${OUTPUT}" "${_header}")

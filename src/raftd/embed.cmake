# Turns a file into a C++ source defining raftd::dashboard_html(). Run at build time.
# Bytes are unsigned so that UTF-8 text embeds without narrowing.
#   cmake -DINPUT=... -DOUTPUT=... -P embed.cmake
file(READ "${INPUT}" CONTENT HEX)
string(LENGTH "${CONTENT}" HEX_LENGTH)
math(EXPR BYTES "${HEX_LENGTH} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," ARRAY "${CONTENT}")
file(WRITE "${OUTPUT}" "// Generated from ${INPUT}; do not edit.\n#include \"src/raftd/dashboard.h\"\n\nnamespace raftd {\nnamespace {\nconstexpr unsigned char kPage[] = {${ARRAY} 0};\n}\n\nstd::string_view dashboard_html() { return {reinterpret_cast<const char*>(kPage), ${BYTES}}; }\n\n}  // namespace raftd\n")

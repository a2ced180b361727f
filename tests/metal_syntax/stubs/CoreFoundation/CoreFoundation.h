// Stand-in for <CoreFoundation/CoreFoundation.h> of Apple's SDK, for the
// Linux syntax check of metal-cpp only: the names metal-cpp uses. Like the
// SDK's header it brings in libdispatch's types.
#pragma once

#include <dispatch/dispatch.h>

typedef double CFTimeInterval;
typedef const struct __CFString* CFStringRef;

extern "C" CFStringRef __CFStringMakeConstantString(const char* cStr);

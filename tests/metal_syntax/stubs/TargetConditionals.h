// Stand-in for <TargetConditionals.h> of Apple's SDK, for the Linux syntax
// check of metal-cpp and the Metal backend only: the check is for macOS.
#pragma once

#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0

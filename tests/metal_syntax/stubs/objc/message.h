// Stand-in for <objc/message.h> of Apple's SDK, for the Linux syntax check of
// metal-cpp only. metal-cpp casts the address of a message sender to the
// right function type, so, as in the SDK (OBJC_OLD_DISPATCH_PROTOTYPES=0),
// the senders are declared without parameters.
#pragma once

#include <objc/runtime.h>

extern "C" {
void objc_msgSend(void);
void objc_msgSend_stret(void);  // struct returns (not on arm64)
void objc_msgSend_fpret(void);  // floating-point returns (x86)
}

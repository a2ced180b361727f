// Stand-in for <dispatch/dispatch.h> (libdispatch) of Apple's SDK, for the
// Linux syntax check of metal-cpp only: the two object types metal-cpp names
// (as declared for C++ without Objective-C).
#pragma once

typedef struct dispatch_queue_s* dispatch_queue_t;
typedef struct dispatch_data_s* dispatch_data_t;

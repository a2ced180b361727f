// Stand-in for <mach/mach.h> of Apple's SDK, for the Linux syntax check of
// metal-cpp only: the Mach types of MTLResource::setOwner.
#pragma once

typedef int kern_return_t;
typedef unsigned int mach_port_t;
typedef mach_port_t task_id_token_t;

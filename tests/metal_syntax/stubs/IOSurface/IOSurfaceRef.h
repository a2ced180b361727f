// Stand-in for <IOSurface/IOSurfaceRef.h> of Apple's SDK, for the Linux
// syntax check of metal-cpp only: the opaque surface handle it names.
#pragma once

typedef struct __IOSurface* IOSurfaceRef;

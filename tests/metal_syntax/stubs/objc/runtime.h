// Stand-in for the Objective-C runtime header <objc/runtime.h> of Apple's SDK
// (libobjc), for the Linux syntax check of metal-cpp only: the types and
// functions metal-cpp uses, with the SDK's names and signatures (C linkage).
#pragma once

typedef struct objc_class* Class;
struct objc_object {
  Class isa;
};
typedef struct objc_object* id;
typedef struct objc_selector* SEL;
// In C and C++ the SDK declares Protocol as an object type.
typedef struct objc_object Protocol;

extern "C" {
Class objc_lookUpClass(const char* name);
Protocol* objc_getProtocol(const char* name);
SEL sel_registerName(const char* str);
}

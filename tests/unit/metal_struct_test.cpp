// Described parameter structs: Metal layout (float3 padding, arrays, nested
// structs, host-only trailing fields), name overrides, and the emitted Metal
// struct definitions (golden text, dependency order, de-duplication).
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <foundry/metal/metal.hpp>

namespace metal = foundry::metal;

// ------------------------------------------------------------- fixtures --

namespace fx {

using foundry::bfloat;
using foundry::half;

struct Basic {
  float a;
  metal::float3 b;
};
FOUNDRY_METAL_STRUCT(Basic, (a, b));

struct GemvParams {
  std::uint32_t n;
  std::uint32_t k;
  metal::float3 scale;
  float w[4];
};
FOUNDRY_METAL_STRUCT(GemvParams, (n, k, scale, w));

struct Scalars {
  bool flag;
  char c;
  std::int8_t i8;
  std::uint8_t u8;
  std::int16_t i16;
  std::uint16_t u16;
  std::int32_t i32;
  std::uint32_t u32;
  std::int64_t i64;
  std::uint64_t u64;
  half h;
  bfloat bf;
  float f;
};
FOUNDRY_METAL_STRUCT(Scalars, (flag, c, i8, u8, i16, u16, i32, u32, i64, u64, h, bf, f));

struct Arrays {
  half h;
  std::array<std::uint32_t, 3> idx;
  metal::float3 v[2];
  half m[2][3];
  std::array<std::array<metal::half2, 2>, 3> hh;
  std::array<float[2], 2> mixed;
};
FOUNDRY_METAL_STRUCT(Arrays, (h, idx, v, m, hh, mixed));

struct Inner {
  metal::float2 p;
  float s;
};
FOUNDRY_METAL_STRUCT(Inner, (p, s));

struct Outer {
  std::uint32_t count;
  Inner first;
  Inner rest[2];
  metal::float3 tail;
};
FOUNDRY_METAL_STRUCT(Outer, (count, first, rest, tail));

// Host-only fields after the described ones.
struct HostTail {
  metal::float3 pos;
  float mass;
  const void* cookie;  // host-only
  std::uint64_t id;    // host-only
};
FOUNDRY_METAL_STRUCT(HostTail, (pos, mass));

// Metal name and field names overridden through struct_traits.
struct Renamed {
  float scale_;
  std::uint32_t count_;
  metal::half4 color;
};
FOUNDRY_METAL_STRUCT(Renamed, (scale_, count_, color));

// Diamond: Top -> (Mid, Leaf), Mid -> Leaf.
struct Leaf {
  float v;
};
FOUNDRY_METAL_STRUCT(Leaf, (v));

struct Mid {
  Leaf a;
  std::array<Leaf, 2> b;
};
FOUNDRY_METAL_STRUCT(Mid, (a, b));

struct Top {
  Mid m;
  Leaf l;
  Mid ms[2];
};
FOUNDRY_METAL_STRUCT(Top, (m, l, ms));

// A struct nested in a class: the recorded name is unqualified.
struct Holder {
  struct Config {
    std::int32_t level;
  };
};
FOUNDRY_METAL_STRUCT(Holder::Config, (level));

struct NotDescribed {
  float x;
};

}  // namespace fx

template <>
struct foundry::metal::struct_traits<fx::Renamed> {
  static constexpr std::string_view name = "RenamedParams";
  /// Drops the trailing underscore of data members.
  static constexpr std::string_view field_name(std::string_view cxx) noexcept {
    return cxx.ends_with('_') ? cxx.substr(0, cxx.size() - 1) : cxx;
  }
};

namespace {

/// Collapses each run of whitespace to one space and trims both ends, so
/// golden texts can be compared independently of indentation and line breaks.
constexpr foundry::ct_string squeeze(std::string_view text) {
  foundry::ct_string out;
  bool pending_space = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (space) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out += c;
    }
  }
  return out;
}

constexpr bool same_text(std::string_view a, std::string_view b) {
  return squeeze(a) == squeeze(b);
}

// ------------------------------------------------------------- layouts --

static_assert(metal::check_layout<fx::Basic>());
static_assert(metal::layout<fx::Basic>::field_count == 2);
static_assert(metal::layout<fx::Basic>::offsets == std::array<std::size_t, 2>{0, 16});
static_assert(metal::metal_size<fx::Basic> == 32 && metal::metal_alignment<fx::Basic> == 16);
static_assert(sizeof(fx::Basic) == 32 && offsetof(fx::Basic, b) == 16);

static_assert(metal::layout<fx::GemvParams>::offsets == std::array<std::size_t, 4>{0, 4, 16, 32});
static_assert(metal::metal_size<fx::GemvParams> == 48);

static_assert(metal::layout<fx::Scalars>::offsets ==
              std::array<std::size_t, 13>{0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 34, 36});
static_assert(metal::metal_size<fx::Scalars> == 40 && metal::metal_alignment<fx::Scalars> == 8);

// h 0..2, idx 4..16, v 16..48, m 48..60, hh (half2 is 4-aligned) 60..84,
// mixed 84..100; alignment 16 -> size 112.
static_assert(metal::layout<fx::Arrays>::offsets ==
              std::array<std::size_t, 6>{0, 4, 16, 48, 60, 84});
static_assert(metal::metal_size<fx::Arrays> == 112 && sizeof(fx::Arrays) == 112);

// Inner: p 0..8, s 8..12, size 16 (8-aligned). Outer: count 0, first 8..24,
// rest 24..56, tail 64..80.
static_assert(metal::metal_size<fx::Inner> == 16 && metal::metal_alignment<fx::Inner> == 8);
static_assert(metal::layout<fx::Outer>::offsets == std::array<std::size_t, 4>{0, 8, 24, 64});
static_assert(metal::metal_size<fx::Outer> == 80 && metal::metal_alignment<fx::Outer> == 16);
static_assert(metal::metal_size<fx::Inner[3]> == 48);

// Host-only tail: the GPU sees the first metal_size bytes.
static_assert(metal::metal_size<fx::HostTail> == 32);
static_assert(sizeof(fx::HostTail) == 48);
static_assert(metal::layout<fx::HostTail>::field_count == 2);

static_assert(metal::metal_size<fx::Top> == 4 * (1 + 2) + 4 + 2 * 4 * 3);

// Traits and names.
static_assert(metal::is_metal_struct_v<fx::Basic>);
static_assert(metal::is_metal_struct_v<const fx::Outer>);
static_assert(!metal::is_metal_struct_v<fx::NotDescribed>);
static_assert(!metal::is_metal_struct_v<metal::float3>);
static_assert(!metal::is_metal_struct_v<int>);
static_assert(metal::type_name<fx::Basic>() == "Basic");
static_assert(metal::struct_name<fx::Renamed>() == "RenamedParams");
static_assert(metal::type_name<fx::Renamed>() == "RenamedParams");
static_assert(metal::field_name<fx::Renamed>("count_") == "count");
static_assert(metal::field_name<fx::Basic>("a") == "a");
static_assert(metal::type_name<fx::Holder::Config>() == "Config");

// The description is a Boost.Describe description too.
static_assert(
    boost::mp11::mp_size<
        boost::describe::describe_members<fx::GemvParams, boost::describe::mod_public>>::value ==
    4);
static_assert(
    boost::mp11::mp_size<
        boost::describe::describe_members<fx::HostTail, boost::describe::mod_public>>::value == 2);

// --------------------------------------------------------- definitions --

constexpr std::string_view kGemvGolden = R"(
struct GemvParams {
  uint n;
  uint k;
  float3 scale;
  float w[4];
};
)";

// Exact text (two-space indentation, one field per line, trailing newline).
static_assert(metal::struct_definition_text<fx::GemvParams> ==
              "struct GemvParams {\n  uint n;\n  uint k;\n  float3 scale;\n  float w[4];\n};\n");
static_assert(same_text(metal::struct_definition_text<fx::GemvParams>, kGemvGolden));
static_assert(metal::struct_definition<fx::GemvParams>() ==
              metal::struct_definition_text<fx::GemvParams>);
static_assert(metal::struct_definition_text<fx::Basic>.data()
                  [metal::struct_definition_text<fx::Basic>.size()] == '\0');

static_assert(same_text(metal::struct_definition_text<fx::Scalars>, R"(
struct Scalars {
  bool flag; char c; char i8; uchar u8; short i16; ushort u16; int i32; uint u32;
  long i64; ulong u64; half h; bfloat bf; float f;
};)"));

static_assert(same_text(metal::struct_definition_text<fx::Arrays>, R"(
struct Arrays {
  half h;
  uint idx[3];
  float3 v[2];
  half m[2][3];
  half2 hh[3][2];
  float mixed[2][2];
};)"));

static_assert(same_text(metal::struct_definition_text<fx::HostTail>, R"(
struct HostTail {
  float3 pos;
  float mass;
};)"));

static_assert(same_text(metal::struct_definition_text<fx::Renamed>, R"(
struct RenamedParams {
  float scale;
  uint count;
  half4 color;
};)"));

static_assert(same_text(metal::struct_definition_text<fx::Holder::Config>,
                        "struct Config { int level; };"));

// Dependencies first, each struct once.
static_assert(same_text(metal::struct_definitions_text<fx::Outer>, R"(
struct Inner {
  float2 p;
  float s;
};

struct Outer {
  uint count;
  Inner first;
  Inner rest[2];
  float3 tail;
};)"));

constexpr std::string_view kDiamondGolden = R"(
struct Leaf { float v; };
struct Mid { Leaf a; Leaf b[2]; };
struct Top { Mid m; Leaf l; Mid ms[2]; };
)";
static_assert(same_text(metal::struct_definitions_text<fx::Top>, kDiamondGolden));
static_assert(same_text(metal::struct_definitions_text<fx::Top, fx::Leaf, fx::Mid, fx::Top>,
                        kDiamondGolden));
static_assert(same_text(metal::struct_definitions_text<fx::Leaf, fx::Top>, kDiamondGolden));
// Mid before Leaf in the request: Leaf still comes first, as Mid needs it.
static_assert(same_text(metal::struct_definitions_text<fx::Mid, fx::Leaf>,
                        "struct Leaf { float v; }; struct Mid { Leaf a; Leaf b[2]; };"));
// Independent structs keep the requested order.
static_assert(same_text(metal::struct_definitions_text<fx::Basic, fx::Leaf>,
                        "struct Basic { float a; float3 b; }; struct Leaf { float v; };"));
static_assert(metal::struct_definitions_text<>.empty());
// Definitions are separated by one blank line.
static_assert(metal::struct_definitions_text<fx::Mid> ==
              "struct Leaf {\n  float v;\n};\n\nstruct Mid {\n  Leaf a;\n  Leaf b[2];\n};\n");

// ---------------------------------------------------------------- tests --

template <class T, std::size_t N>
void expect_offsets(const std::array<std::size_t, N>& host) {
  for (std::size_t i = 0; i < N; ++i)
    EXPECT_EQ(metal::layout<T>::offsets[i], host[i]) << "field " << i;
}

TEST(MetalStruct, MetalOffsetsEqualHostOffsets) {
  expect_offsets<fx::Basic>(
      std::array<std::size_t, 2>{offsetof(fx::Basic, a), offsetof(fx::Basic, b)});
  expect_offsets<fx::GemvParams>(
      std::array<std::size_t, 4>{offsetof(fx::GemvParams, n), offsetof(fx::GemvParams, k),
                                 offsetof(fx::GemvParams, scale), offsetof(fx::GemvParams, w)});
  expect_offsets<fx::Outer>(
      std::array<std::size_t, 4>{offsetof(fx::Outer, count), offsetof(fx::Outer, first),
                                 offsetof(fx::Outer, rest), offsetof(fx::Outer, tail)});
  expect_offsets<fx::Arrays>(std::array<std::size_t, 6>{
      offsetof(fx::Arrays, h), offsetof(fx::Arrays, idx), offsetof(fx::Arrays, v),
      offsetof(fx::Arrays, m), offsetof(fx::Arrays, hh), offsetof(fx::Arrays, mixed)});
}

TEST(MetalStruct, HostOnlyTailIsNotBound) {
  // The bytes bound to the GPU are a prefix of the host object.
  fx::HostTail t{};
  t.pos = {1.0f, 2.0f, 3.0f};
  t.mass = 4.0f;
  t.cookie = &t;
  t.id = 42;
  const auto* bytes = reinterpret_cast<const unsigned char*>(&t);
  EXPECT_EQ(metal::metal_size<fx::HostTail>, 32u);
  EXPECT_LE(metal::metal_size<fx::HostTail>, sizeof t);
  // A host-only field may start inside the Metal struct's tail padding
  // (bytes 20..32 here): Metal ignores those bytes, the described ones are
  // untouched.
  const auto cookie_offset =
      static_cast<std::size_t>(reinterpret_cast<const unsigned char*>(&t.cookie) - bytes);
  EXPECT_GE(cookie_offset, metal::layout<fx::HostTail>::offsets[1] + sizeof(float));
  EXPECT_EQ(cookie_offset, 24u);
}

TEST(MetalStruct, DefinitionTextAtRunTime) {
  const std::string text{metal::struct_definition_text<fx::GemvParams>};
  EXPECT_EQ(squeeze(text), squeeze(kGemvGolden));
  EXPECT_EQ(metal::struct_definition<fx::Basic>(), "struct Basic {\n  float a;\n  float3 b;\n};\n");
  EXPECT_EQ(squeeze(metal::struct_definitions<fx::Top, fx::Mid>()), squeeze(kDiamondGolden));
  // The view refers to NUL-terminated static storage.
  EXPECT_EQ(std::string(metal::struct_definition_text<fx::Leaf>.data()),
            "struct Leaf {\n  float v;\n};\n");
}

TEST(MetalStruct, OverriddenNames) {
  EXPECT_EQ(metal::type_name<fx::Renamed>(), "RenamedParams");
  EXPECT_EQ(metal::field_name<fx::Renamed>("scale_"), "scale");
  EXPECT_EQ(metal::field_name<fx::Renamed>("color"), "color");
  EXPECT_NE(metal::struct_definition_text<fx::Renamed>.find("uint count;"), std::string_view::npos);
}

}  // namespace

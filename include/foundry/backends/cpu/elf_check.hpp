#pragma once
/// @file elf_check.hpp
/// A structural check of a shared object before dlopen sees it.
///
/// The disk cache's content hash proves a file is the one that was sealed,
/// not that the compiler wrote a whole object: a linker killed or out of
/// disk space mid-way can leave a truncated object that is then sealed. The
/// loader maps each loadable segment from the file; one reaching past the end
/// of the file faults (SIGBUS) inside dlopen, killing the process on every
/// run. This check reads only the ELF header and program headers (layout:
/// the System V ABI, <elf.h>) and accepts an object only when it is a shared
/// object for this machine whose headers and loadable segments all lie
/// within the file. No ELF library is used: these few fields are all that is
/// needed, and libelf would be a run-time dependency of every program.

#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstring>
#include <string_view>

namespace foundry::cpu::detail {

/// The ELF machine of this process.
inline constexpr std::uint16_t host_elf_machine =
#if defined(__x86_64__)
    EM_X86_64;
#elif defined(__aarch64__)
    EM_AARCH64;
#elif defined(__i386__)
    EM_386;
#elif defined(__riscv)
    EM_RISCV;
#elif defined(__powerpc64__)
    EM_PPC64;
#else
    EM_NONE;  // unknown: the machine field is not checked
#endif

/// True if `image` is a shared object of this process's class, byte order
/// and machine whose program headers and loadable segments lie within it.
inline bool loadable_shared_object(std::string_view image) {
  using ehdr = ElfW(Ehdr);
  using phdr = ElfW(Phdr);
  if (image.size() < sizeof(ehdr)) return false;
  ehdr h;
  std::memcpy(&h, image.data(), sizeof h);
  const unsigned char data_order =
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      ELFDATA2LSB;
#else
      ELFDATA2MSB;
#endif
  if (std::memcmp(h.e_ident, ELFMAG, SELFMAG) != 0 || h.e_ident[EI_CLASS] != (sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32) ||
      h.e_ident[EI_DATA] != data_order || h.e_type != ET_DYN)
    return false;
  if (host_elf_machine != EM_NONE && h.e_machine != host_elf_machine) return false;
  const std::uint64_t size = image.size();
  if (h.e_phentsize != sizeof(phdr) || h.e_phnum == 0 || h.e_phoff > size ||
      static_cast<std::uint64_t>(h.e_phnum) * sizeof(phdr) > size - h.e_phoff)
    return false;
  if (h.e_shnum != 0 && (h.e_shoff > size || static_cast<std::uint64_t>(h.e_shnum) * h.e_shentsize > size - h.e_shoff))
    return false;
  bool any_load = false;
  for (std::uint16_t i = 0; i < h.e_phnum; ++i) {
    phdr p;
    std::memcpy(&p, image.data() + h.e_phoff + i * sizeof(phdr), sizeof p);
    if (p.p_type != PT_LOAD && p.p_type != PT_DYNAMIC) continue;
    if (p.p_offset > size || p.p_filesz > size - p.p_offset) return false;
    any_load = any_load || p.p_type == PT_LOAD;
  }
  return any_load;
}

}  // namespace foundry::cpu::detail

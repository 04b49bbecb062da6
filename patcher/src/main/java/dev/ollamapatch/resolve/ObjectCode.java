package dev.ollamapatch.resolve;

import static dev.ollamapatch.elf.ElfConstants.*;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ProgramHeader;
import dev.ollamapatch.elf.Relocation;
import dev.ollamapatch.elf.SectionHeader;
import dev.ollamapatch.elf.Symbol;
import dev.ollamapatch.site.CodeAddresses;
import dev.ollamapatch.site.X86Prefilter;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The calls one object's code makes, as far as the loader's decisions need them (x86-64 and aarch64):
 * which imported function a call or jump reaches (through a PLT stub or straight through its GOT
 * slot), where code forms the address of a string, and which exported function holds an address.
 * An imported function is named by the JUMP_SLOT or GLOB_DAT relocation that fills its GOT slot.
 */
final class ObjectCode {
    // Relocation types that fill a GOT slot with a symbol's address (psABI x86-64 table 4.9; ELF for the
    // Arm 64-bit Architecture, table "Dynamic relocations").
    private static final long R_X86_64_GLOB_DAT = 6, R_X86_64_JUMP_SLOT = 7;
    private static final long R_AARCH64_GLOB_DAT = 1025, R_AARCH64_JUMP_SLOT = 1026;
    /** Bytes after an address-forming instruction searched for the call that consumes the address. */
    private static final int X86_CALL_WINDOW = 96;
    private static final int ARM64_CALL_WINDOW = 24; // instructions
    /** Instructions before a register branch searched for the GOT load that feeds it. */
    private static final int ARM64_LOOKBACK = 8;

    /** A call ({@code call}/{@code bl}) or a tail jump ({@code jmp}/{@code b}) at {@code at}. */
    record Branch(long at, boolean call, long target, String symbol) {}

    /** A code region: file bytes at {@code offset} loaded at {@code vaddr}. */
    private record Code(long offset, long vaddr, long size, boolean plt) {}

    private final ElfFile elf;
    private final int machine;
    private final Map<Long, String> slots = new HashMap<>();
    private final Set<String> imported = new HashSet<>();
    /** GOT slots filled by GLOB_DAT: read as a value (a function's address taken) or by -fno-plt calls. */
    private final Set<Long> globDatSlots = new HashSet<>();
    private final List<Code> code = new ArrayList<>();

    ObjectCode(ElfFile elf) {
        this.elf = elf;
        this.machine = elf.header().machine();
        long glob = machine == EM_AARCH64 ? R_AARCH64_GLOB_DAT : R_X86_64_GLOB_DAT;
        long jump = machine == EM_AARCH64 ? R_AARCH64_JUMP_SLOT : R_X86_64_JUMP_SLOT;
        List<Symbol> dynsym = elf.dynamicSymbols();
        for (Relocation r : elf.symbolRelocations()) {
            if ((r.type() == glob || r.type() == jump) && r.symbol() > 0 && r.symbol() < dynsym.size()) {
                slots.put(r.offset(), dynsym.get((int) r.symbol()).name());
                if (r.type() == glob) globDatSlots.add(r.offset());
            }
        }
        imported.addAll(slots.values());
        if (!elf.sections().isEmpty()) {
            for (SectionHeader s : elf.sections()) {
                if (s.isExecInstr() && s.isAlloc() && s.hasFileData() && s.size() > 0) {
                    code.add(new Code(s.offset(), s.addr(), s.size(), s.name().startsWith(".plt")
                            || s.name().equals(".iplt")));
                }
            }
        } else {
            for (ProgramHeader p : elf.programHeaders()) {
                if (p.type() == PT_LOAD && (p.flags() & PF_X) != 0) {
                    code.add(new Code(p.offset(), p.vaddr(), p.filesz(), false));
                }
            }
        }
    }

    /** The names {@link #dlopenCalls} and {@link #dlopenAddressTaken} are about. */
    static final Set<String> DLOPEN = Set.of("dlopen", "dlmopen");

    private List<Branch> dlopenCalls;
    private Optional<String> dlopenAddressTaken;

    /**
     * {@link #branchesTo} of {@link #DLOPEN}, computed once: a pass over all of the object's code that a
     * resolution needs for nearly every string, and that {@link Resolver#warm} may run on another thread
     * ahead of it. The first caller computes it; another one meanwhile waits for that result.
     */
    synchronized List<Branch> dlopenCalls() {
        if (dlopenCalls == null) dlopenCalls = List.copyOf(branchesTo(DLOPEN, Set.of()));
        return dlopenCalls;
    }

    /** {@link #addressTaken} of {@link #DLOPEN}, computed once (as {@link #dlopenCalls}). */
    synchronized Optional<String> dlopenAddressTaken() {
        if (dlopenAddressTaken == null) dlopenAddressTaken = addressTaken(DLOPEN);
        return dlopenAddressTaken;
    }

    boolean supported() {
        return machine == EM_X86_64 || machine == EM_AARCH64;
    }

    /** Whether this object imports {@code name} through a GOT slot. */
    boolean imports(String name) {
        return imported.contains(name);
    }

    /** The exported (dynamic, defined) function whose extent holds {@code vaddr}. */
    Optional<Symbol> exportedFunctionAt(long vaddr) {
        return functionAt(elf.dynamicSymbols(), vaddr);
    }

    /** Any function symbol (dynamic or, where present, the full symbol table) whose extent holds {@code vaddr}. */
    Optional<Symbol> functionAt(long vaddr) {
        return functionAt(elf.dynamicSymbols(), vaddr).or(() -> functionAt(elf.symbols(), vaddr));
    }

    private static Optional<Symbol> functionAt(List<Symbol> symbols, long vaddr) {
        return symbols.stream().filter(s -> s.type() == 2 /* STT_FUNC */ && s.shndx() != SHN_UNDEF && s.size() > 0
                && Long.compareUnsigned(vaddr - s.value(), s.size()) < 0 && Long.compareUnsigned(vaddr, s.value()) >= 0)
                .findFirst();
    }

    /** The exported function called {@code name}, defined here. */
    Optional<Symbol> exported(String name) {
        return elf.dynamicSymbols().stream().filter(s -> s.name().equals(name) && s.shndx() != SHN_UNDEF
                && s.type() == 2).findFirst();
    }

    // ---------------------------------------------------------------- a function's address taken

    /**
     * Where this object takes the address of one of the imported functions {@code names} instead of only
     * calling it: a pointer that may be called from anywhere (a variable, a table of openers), so the code
     * that finally calls it, and with which string, is not something this reader follows. Found as: a
     * dynamic relocation other than JUMP_SLOT/GLOB_DAT against the function (a pointer stored in data:
     * {@code R_X86_64_64}, {@code R_AARCH64_ABS64}); its GLOB_DAT slot read into a register rather than
     * branched through ({@code mov r64,[rip+slot]}; aarch64 {@code adrp}+{@code ldr} with no {@code br}/
     * {@code blr} of that register right after); in an executable, a nonzero value of the undefined symbol
     * (the canonical PLT entry the linker makes when non-PIC code takes the address, psABI x86-64 5.2
     * "Function Addresses"). Empty when none is found.
     */
    Optional<String> addressTaken(Set<String> names) {
        List<Symbol> dynsym = elf.dynamicSymbols();
        long glob = machine == EM_AARCH64 ? R_AARCH64_GLOB_DAT : R_X86_64_GLOB_DAT;
        long jump = machine == EM_AARCH64 ? R_AARCH64_JUMP_SLOT : R_X86_64_JUMP_SLOT;
        for (Relocation r : elf.symbolRelocations()) {
            if (r.symbol() <= 0 || r.symbol() >= dynsym.size() || !names.contains(dynsym.get((int) r.symbol()).name())) continue;
            if (r.type() != glob && r.type() != jump) {
                return Optional.of(String.format("a relocation of type %d at vaddr 0x%x stores the address of %s in data",
                        r.type(), r.offset(), dynsym.get((int) r.symbol()).name()));
            }
        }
        if (elf.header().type() == ET_EXEC) {
            for (Symbol s : dynsym) {
                if (names.contains(s.name()) && s.shndx() == SHN_UNDEF && s.value() != 0) {
                    return Optional.of(String.format("%s has the canonical address 0x%x (its PLT entry), which the "
                            + "linker gives an imported function whose address the program takes", s.name(), s.value()));
                }
            }
        }
        Set<Long> wanted = new HashSet<>();
        slots.forEach((slot, name) -> { if (names.contains(name) && globDatSlots.contains(slot)) wanted.add(slot); });
        if (wanted.isEmpty() || !supported()) return Optional.empty();
        long[] found = {-1, -1};
        for (Code c : code) {
            if (c.plt || found[0] >= 0) continue;
            forEachWindow(c, (buf, base, from, to) -> {
                if (machine == EM_X86_64) {
                    for (int i = from; i < to && i + 7 <= buf.limit() && found[0] < 0; i++) {
                        int b0 = buf.get(i) & 0xFF;
                        // REX.W 8B /r, ModRM mod=00 rm=101: mov r64, [rip+disp32] (SDM vol. 2, 2.2.1.6).
                        if ((b0 & 0xF8) == 0x48 && buf.get(i + 1) == (byte) 0x8B && (buf.get(i + 2) & 0xC7) == 0x05) {
                            long slot = base + i + 7 + buf.getInt(i + 3);
                            if (wanted.contains(slot)) { found[0] = base + i; found[1] = slot; }
                        }
                    }
                } else {
                    for (int i = from & ~3; i < to && i + 4 <= buf.limit() && found[0] < 0; i += 4) {
                        int adrp = buf.getInt(i);
                        if ((adrp & 0x9F000000) != 0x90000000) continue;
                        int rm = adrp & 31;
                        for (int j = i + 4; j < i + 20 && j + 4 <= buf.limit(); j += 4) {
                            int ldr = buf.getInt(j);
                            // LDR Xt, [Xn, #imm12*8] with Xn the adrp's register.
                            if ((ldr & 0xFFC00000) != 0xF9400000 || ((ldr >>> 5) & 31) != rm) continue;
                            long slot = adrpPage(adrp, base + i) + ((long) ((ldr >>> 10) & 0xFFF) << 3);
                            if (!wanted.contains(slot)) break;
                            if (!branchesThrough(buf, j + 4, ldr & 31)) { found[0] = base + j; found[1] = slot; }
                            break;
                        }
                    }
                }
            });
        }
        if (found[0] < 0) return Optional.empty();
        return Optional.of(String.format("the instruction at vaddr 0x%x reads %s's address from its GOT slot at 0x%x",
                found[0], slots.get(found[1]), found[1]));
    }

    /** Whether {@code br}/{@code blr} of register {@code rt} follows within 8 instructions, before it is written again. */
    private static boolean branchesThrough(ByteBuffer buf, int from, int rt) {
        for (int k = from; k < from + 32 && k + 4 <= buf.limit(); k += 4) {
            int insn = buf.getInt(k);
            if (((insn & 0xFFFFFC1F) == 0xD61F0000 || (insn & 0xFFFFFC1F) == 0xD63F0000) && ((insn >>> 5) & 31) == rt) return true;
            if ((insn & 31) == rt && writesRegister(insn)) return false;
        }
        return false;
    }

    // ---------------------------------------------------------------- addresses formed by code

    /**
     * Addresses of instructions that form an address in {@code [start, end)}: x86-64
     * {@code lea reg,[rip+disp32]} (and, in ET_EXEC, {@code mov reg, imm32}); aarch64 {@code adrp}+{@code add},
     * and {@code adr}.
     */
    List<Long> codeReferencesTo(long start, long end) {
        return codeReferencesTo(List.of(new long[] {start, end})).get(0);
    }

    /** {@link #codeReferencesTo(long, long)} for several ranges ({start, end}) in one pass over the code. */
    List<List<Long>> codeReferencesTo(List<long[]> ranges) {
        return codeReferencesTo(ranges, true);
    }

    /** As above; {@code shared}: the leas the site finder kept for this file may serve (else this pass decodes them). */
    List<List<Long>> codeReferencesTo(List<long[]> ranges, boolean shared) {
        List<List<Long>> out = new ArrayList<>();
        for (int r = 0; r < ranges.size(); r++) out.add(new ArrayList<>());
        boolean absolute = elf.header().type() == ET_EXEC;
        // The site finder's pass over this file's code kept every RIP-relative lea (position-independent
        // little-endian x86-64): the same instructions this pass would find, read from there.
        Optional<CodeAddresses> known = shared && machine == EM_X86_64 && !absolute
                && elf.byteOrder() == ByteOrder.LITTLE_ENDIAN ? CodeAddresses.of(elf) : Optional.empty();
        for (Code c : code) {
            if (c.plt) continue;
            Optional<CodeAddresses.Leas> leas = known.flatMap(k -> k.region(c.offset(), c.vaddr(), c.size()));
            if (leas.isPresent()) {
                CodeAddresses.Leas l = leas.get();
                for (int k = 0; k < l.count(); k++) add(ranges, l.target()[k], l.at()[k], out);
                continue;
            }
            forEachWindow(c, (buf, base, from, to) -> {
                if (machine == EM_X86_64 && !absolute) {
                    // Only RIP-relative leas count here: visit just the positions the prefilter leaves.
                    X86Prefilter.ripLeaCandidates(buf.array(), from, Math.min(to, buf.limit() - 6), buf.limit(), i -> {
                        int b0 = buf.get(i) & 0xFF;
                        if ((b0 & 0xF8) == 0x48 && buf.get(i + 1) == (byte) 0x8D && (buf.get(i + 2) & 0xC7) == 0x05) {
                            add(ranges, base + i + 7 + buf.getInt(i + 3), base + i, out);
                        }
                    });
                } else if (machine == EM_X86_64) {
                    for (int i = from; i < to && i + 7 <= buf.limit(); i++) {
                        int b0 = buf.get(i) & 0xFF;
                        // REX.W (0x48..0x4f) 8D /r with ModRM mod=00 rm=101: RIP-relative lea (SDM vol. 2, 2.2.1.6).
                        if ((b0 & 0xF8) == 0x48 && buf.get(i + 1) == (byte) 0x8D && (buf.get(i + 2) & 0xC7) == 0x05) {
                            long target = base + i + 7 + buf.getInt(i + 3);
                            add(ranges, target, base + i, out);
                        } else if (absolute && b0 >= 0xB8 && b0 <= 0xBF && i + 5 <= buf.limit()) {
                            long target = buf.getInt(i + 1) & 0xFFFFFFFFL;
                            add(ranges, target, base + i, out);
                        }
                    }
                } else if (machine == EM_AARCH64) {
                    for (int i = from & ~3; i < to && i + 4 <= buf.limit(); i += 4) {
                        int insn = buf.getInt(i);
                        if ((insn & 0x9F000000) == 0x10000000) {
                            // ADR: pc + signed 21-bit immhi:immlo; lld and mold relax adrp+add into nop+adr.
                            long imm = ((((long) (insn >>> 5) & 0x7FFFF) << 2) | ((insn >>> 29) & 3)) << 43 >> 43;
                            add(ranges, base + i + imm, base + i, out);
                            continue;
                        }
                        if ((insn & 0x9F000000) != 0x90000000) continue; // ADRP
                        long page = adrpPage(insn, base + i);
                        int rd = insn & 31;
                        for (int j = i + 4; j < Math.min(buf.limit() - 3, i + 20); j += 4) {
                            int add = buf.getInt(j);
                            // ADD (immediate), 64-bit, Rn == the adrp's Rd.
                            if ((add & 0xFF800000) == 0x91000000 && ((add >>> 5) & 31) == rd) {
                                int shift = ((add >>> 22) & 1) == 1 ? 12 : 0;
                                long target = page + (((long) (add >>> 10) & 0xFFF) << shift);
                                add(ranges, target, base + i, out);
                                break;
                            }
                        }
                    }
                }
            });
        }
        return out;
    }

    private static void add(List<long[]> ranges, long target, long at, List<List<Long>> out) {
        for (int r = 0; r < ranges.size(); r++) {
            if (inRange(target, ranges.get(r)[0], ranges.get(r)[1])) out.get(r).add(at);
        }
    }

    private static boolean inRange(long v, long start, long end) {
        return Long.compareUnsigned(v, start) >= 0 && Long.compareUnsigned(v, end) < 0;
    }

    // ---------------------------------------------------------------- branches

    /**
     * The calls and jumps within a short window after the instruction at {@code from}, in address order,
     * that reach an imported function (through its PLT stub or GOT slot) or the start of a function of
     * this object. Every byte offset is tried (x86-64 has no fixed instruction length); a branch counts
     * only when its target is such a known entry, which a misread byte essentially never hits.
     */
    List<Branch> branchesAfter(long from) {
        List<Branch> out = new ArrayList<>();
        OptionalLong off = elf.fileOffsetOf(from);
        if (off.isEmpty()) return out;
        int len = (int) Math.min(machine == EM_AARCH64 ? ARM64_CALL_WINDOW * 4 + 4 : X86_CALL_WINDOW + 16,
                elf.bytes().size() - off.getAsLong());
        if (machine == EM_AARCH64) {
            // Context before the address: -fno-plt code loads the GOT slot first and branches after.
            long back = Math.min(ARM64_LOOKBACK * 4L, off.getAsLong()) & ~3L;
            ByteBuffer buf = read(off.getAsLong() - back, len + (int) back);
            long base = from - back;
            for (int i = (int) back + 4; i + 4 <= buf.limit(); i += 4) {
                Optional<Branch> b = arm64BranchAt(buf, base, i);
                if (b.isEmpty()) b = arm64RegisterBranchAt(buf, base, i);
                if (b.isPresent() && (b.get().symbol() != null || isFunctionStart(b.get().target()))) out.add(b.get());
            }
            return out;
        }
        ByteBuffer buf = read(off.getAsLong(), len);
        for (int i = 5; i + 5 <= buf.limit(); i++) { // from inside the lea's displacement on: a branch may follow at once
            Optional<Branch> b = x86BranchAt(buf, from, i);
            if (b.isPresent() && (b.get().symbol() != null || isFunctionStart(b.get().target()))) out.add(b.get());
        }
        return out;
    }

    private boolean isFunctionStart(long vaddr) {
        return functionAt(vaddr).map(s -> s.value() == vaddr).orElse(false);
    }

    /** The first branch to dlopen (or any import in {@code names}) within the first bytes of the function at {@code entry}. */
    Optional<Branch> firstBranchInFunction(long entry, Set<String> names, long size) {
        OptionalLong off = elf.fileOffsetOf(entry);
        if (off.isEmpty()) return Optional.empty();
        int len = (int) Math.min(Math.min(size > 0 ? size : 512, 4096), elf.bytes().size() - off.getAsLong());
        ByteBuffer buf = read(off.getAsLong(), len);
        int step = machine == EM_AARCH64 ? 4 : 1;
        for (int i = 0; i + (step == 4 ? 4 : 5) <= buf.limit(); i += step) {
            Optional<Branch> b = machine == EM_AARCH64 ? arm64BranchAt(buf, entry, i) : x86BranchAt(buf, entry, i);
            if (b.isPresent() && b.get().symbol() != null && names.contains(b.get().symbol())) return b;
        }
        return Optional.empty();
    }

    /**
     * Every call or jump in this object's code to the imported functions {@code names} (through PLT stubs
     * or GOT slots) or to {@code localTargets} (addresses of functions defined here).
     */
    List<Branch> branchesTo(Set<String> names, Set<Long> localTargets) {
        Set<Long> wantedSlots = new HashSet<>();
        slots.forEach((slot, name) -> { if (names.contains(name)) wantedSlots.add(slot); });
        Map<Long, String> entries = new HashMap<>();
        for (Long t : localTargets) entries.put(t, null);
        if (!wantedSlots.isEmpty()) {
            for (Code c : code) findStubs(c, wantedSlots, entries);
        }
        List<Branch> out = new ArrayList<>();
        if (entries.isEmpty() && wantedSlots.isEmpty()) return out;
        for (Code c : code) {
            if (c.plt) continue;
            forEachWindow(c, (buf, base, from, to) -> {
                if (machine == EM_X86_64) {
                    // Every call and jump of the code is a candidate, read from the array itself (in the
                    // short-lived process's C1 code a ByteBuffer's checked, unaligned reads cost several times
                    // as much), and its target looked up in sorted arrays: no boxing, no hashing per candidate.
                    long[] keys = entries.keySet().stream().mapToLong(Long::longValue).sorted().toArray();
                    long[] slotKeys = wantedSlots.stream().mapToLong(Long::longValue).sorted().toArray();
                    byte[] a = buf.array();
                    int n = buf.limit();
                    X86Prefilter.branchCandidates(a, from, Math.min(to, n - 4), n, i -> {
                        int b0 = a[i] & 0xFF;
                        if (b0 == 0xE8 || b0 == 0xE9) {
                            long target = base + i + 5 + X86Prefilter.le32(a, i + 1);
                            if (java.util.Arrays.binarySearch(keys, target) >= 0) {
                                out.add(new Branch(base + i, b0 == 0xE8, target, entries.get(target)));
                            }
                        } else if (b0 == 0xFF && i + 6 <= n && (a[i + 1] == 0x15 || a[i + 1] == 0x25)) {
                            long slot = base + i + 6 + X86Prefilter.le32(a, i + 2);
                            if (java.util.Arrays.binarySearch(slotKeys, slot) >= 0) {
                                out.add(new Branch(base + i, a[i + 1] == 0x15, slot, slots.get(slot)));
                            }
                        }
                    });
                } else {
                    for (int i = from & ~3; i < to && i + 4 <= buf.limit(); i += 4) {
                        int insn = buf.getInt(i);
                        int op = insn & 0xFC000000;
                        if (op == 0x94000000 || op == 0x14000000) { // BL / B imm26
                            long target = base + i + (((long) insn << 38) >> 36);
                            if (entries.containsKey(target)) {
                                out.add(new Branch(base + i, op == 0x94000000, target, entries.get(target)));
                            }
                        } else if ((insn & 0x9F000000) == 0x90000000 && i + 8 <= buf.limit()) {
                            Optional<Branch> b = arm64GotBranch(buf, base, i);
                            if (b.isPresent() && wantedSlots.contains(b.get().target())) out.add(b.get());
                        }
                    }
                }
            });
        }
        return out;
    }

    /** PLT stub entry points whose GOT slot is one of {@code wanted}. */
    private void findStubs(Code c, Set<Long> wanted, Map<Long, String> entries) {
        forEachWindow(c, (buf, base, from, to) -> {
            if (machine == EM_X86_64) {
                // Only jmp [rip+disp32] makes a stub: visit just those positions (calls are far more common).
                byte[] a = buf.array();
                X86Prefilter.ripJumpCandidates(a, from, Math.min(to, buf.limit() - 5), buf.limit(), i -> {
                    if (a[i] == (byte) 0xFF && a[i + 1] == 0x25) {
                        long slot = base + i + 6 + X86Prefilter.le32(a, i + 2);
                        if (!wanted.contains(slot)) return;
                        // The stub may start with endbr64 (4 bytes), bnd (1) or mold's mov r11d, imm32 (6).
                        for (int back : new int[] {0, 1, 4, 5, 6, 10, 11}) {
                            long entry = base + i - back;
                            if (slotOfStub(entry) == slot) entries.put(entry, slots.get(slot));
                        }
                    }
                });
            } else {
                for (int i = from & ~3; i < to && i + 8 <= buf.limit(); i += 4) {
                    int insn = buf.getInt(i);
                    if ((insn & 0x9F00001F) != 0x90000010) continue; // adrp x16
                    for (int back : new int[] {0, 4}) {
                        long entry = base + i - back;
                        long slot = slotOfStub(entry);
                        if (slot != -1 && wanted.contains(slot)) entries.put(entry, slots.get(slot));
                    }
                }
            }
        });
    }

    /** The GOT slot a PLT stub at {@code entry} jumps through, or -1 when it is not a stub. */
    long slotOfStub(long entry) {
        OptionalLong off = elf.fileOffsetOf(entry);
        if (off.isEmpty() || off.getAsLong() + 24 > elf.bytes().size()) return -1;
        ByteBuffer b = read(off.getAsLong(), 24);
        if (machine == EM_X86_64) {
            int i = 0;
            for (int k = 0; k < 3; k++) {
                if (b.get(i) == (byte) 0xF3 && b.get(i + 1) == 0x0F && b.get(i + 2) == 0x1E && b.get(i + 3) == (byte) 0xFA) {
                    i += 4; // endbr64
                } else if (b.get(i) == (byte) 0xF2) {
                    i += 1; // bnd prefix
                } else if (b.get(i) == 0x41 && b.get(i + 1) == (byte) 0xBB) {
                    i += 6; // mov r11d, imm32 (mold)
                }
            }
            if (i + 6 <= 24 && b.get(i) == (byte) 0xFF && b.get(i + 1) == 0x25) {
                return entry + i + 6 + b.getInt(i + 2);
            }
            return -1;
        }
        int i = b.getInt(0) == 0xD503245F ? 4 : 0; // bti c
        int adrp = b.getInt(i), ldr = b.getInt(i + 4);
        // adrp x16, page; ldr x17, [x16, #imm12*8]
        if ((adrp & 0x9F00001F) == 0x90000010 && (ldr & 0xFFC003FF) == 0xF9400211) {
            return adrpPage(adrp, entry + i) + ((long) ((ldr >>> 10) & 0xFFF) << 3);
        }
        return -1;
    }

    private Optional<Branch> x86BranchAt(ByteBuffer buf, long base, int i) {
        int b0 = buf.get(i) & 0xFF;
        if (b0 == 0xE8 || b0 == 0xE9) {
            long target = base + i + 5 + buf.getInt(i + 1);
            long slot = slotOfStub(target);
            return Optional.of(new Branch(base + i, b0 == 0xE8, target, slot == -1 ? null : slots.get(slot)));
        }
        if (b0 == 0xFF && i + 6 <= buf.limit() && (buf.get(i + 1) == 0x15 || buf.get(i + 1) == 0x25)) {
            long slot = base + i + 6 + buf.getInt(i + 2);
            if (slots.containsKey(slot)) return Optional.of(new Branch(base + i, buf.get(i + 1) == 0x15, slot, slots.get(slot)));
        }
        return Optional.empty();
    }

    private Optional<Branch> arm64BranchAt(ByteBuffer buf, long base, int i) {
        int insn = buf.getInt(i);
        int op = insn & 0xFC000000;
        if (op == 0x94000000 || op == 0x14000000) {
            long target = base + i + (((long) insn << 38) >> 36);
            long slot = slotOfStub(target);
            return Optional.of(new Branch(base + i, op == 0x94000000, target, slot == -1 ? null : slots.get(slot)));
        }
        if ((insn & 0x9F000000) == 0x90000000 && i + 8 <= buf.limit()) {
            return arm64GotBranch(buf, base, i);
        }
        return Optional.empty();
    }

    /** {@code adrp xN, page; ldr xM, [xN, #off]; ... blr|br xM} (code built with -fno-plt): the branch through the slot. */
    private Optional<Branch> arm64GotBranch(ByteBuffer buf, long base, int i) {
        int adrp = buf.getInt(i), ldr = buf.getInt(i + 4);
        int rn = adrp & 31;
        if ((ldr & 0xFFC00000) != 0xF9400000 || ((ldr >>> 5) & 31) != rn) return Optional.empty();
        int rt = ldr & 31;
        long slot = adrpPage(adrp, base + i) + ((long) ((ldr >>> 10) & 0xFFF) << 3);
        if (!slots.containsKey(slot)) return Optional.empty();
        for (int j = i + 8; j + 4 <= buf.limit() && j < i + 32; j += 4) {
            int br = buf.getInt(j);
            // BR / BLR Xn (unconditional branch, register): D61F0000 / D63F0000 | Rn<<5.
            if ((br & 0xFFFFFC1F) == 0xD61F0000 && ((br >>> 5) & 31) == rt) {
                if (rn == 16 && rt == 17) return Optional.empty(); // the PLT stub itself
                return Optional.of(new Branch(base + j, false, slot, slots.get(slot)));
            }
            if ((br & 0xFFFFFC1F) == 0xD63F0000 && ((br >>> 5) & 31) == rt) {
                return Optional.of(new Branch(base + j, true, slot, slots.get(slot)));
            }
        }
        return Optional.empty();
    }

    /**
     * {@code br|blr xN} at {@code i} whose register was loaded from a GOT slot a few instructions before
     * ({@code adrp xM, page; ldr xN, [xM, #off]}, the -fno-plt form, which compilers schedule early).
     */
    private Optional<Branch> arm64RegisterBranchAt(ByteBuffer buf, long base, int i) {
        int insn = buf.getInt(i);
        boolean br = (insn & 0xFFFFFC1F) == 0xD61F0000, blr = (insn & 0xFFFFFC1F) == 0xD63F0000;
        if (!br && !blr) return Optional.empty();
        int rn = (insn >>> 5) & 31;
        for (int j = i - 4; j >= 4 && j >= i - ARM64_LOOKBACK * 4; j -= 4) {
            int ldr = buf.getInt(j);
            if ((ldr & 31) == rn && (ldr & 0xFFC00000) != 0xF9400000 && writesRegister(ldr)) return Optional.empty();
            if ((ldr & 0xFFC00000) != 0xF9400000 || (ldr & 31) != rn) continue;
            int rm = (ldr >>> 5) & 31;
            for (int k = j - 4; k >= 0 && k >= j - 16; k -= 4) {
                int adrp = buf.getInt(k);
                if ((adrp & 0x9F000000) == 0x90000000 && (adrp & 31) == rm) {
                    long slot = adrpPage(adrp, base + k) + ((long) ((ldr >>> 10) & 0xFFF) << 3);
                    if (!slots.containsKey(slot)) return Optional.empty();
                    if (rm == 16 && rn == 17 && br) return Optional.empty(); // a PLT stub
                    return Optional.of(new Branch(base + i, blr, slot, slots.get(slot)));
                }
            }
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** Whether an instruction of the data-processing classes writes its Rd (bits 0-4). */
    private static boolean writesRegister(int insn) {
        int op0 = (insn >>> 25) & 0xF;
        return (op0 & 0xE) == 0x8 || (op0 & 0x7) == 0x5;
    }

    /** ADRP: the 4 KiB page of {@code pc} plus the signed 21-bit page offset (immhi:immlo). */
    private static long adrpPage(int insn, long pc) {
        long immlo = (insn >>> 29) & 3;
        long immhi = (insn >>> 5) & 0x7FFFF;
        long imm = ((immhi << 2) | immlo) << 43 >> 43;
        return (pc & ~0xFFFL) + (imm << 12);
    }

    private ByteBuffer read(long offset, int len) {
        byte[] a = new byte[Math.max(len, 0)];
        elf.bytes().read(offset, a, 0, a.length);
        return ByteBuffer.wrap(a).order(ByteOrder.LITTLE_ENDIAN);
    }

    private interface Visitor { void visit(ByteBuffer buf, long base, int from, int to); }

    private static final int STEP = 4 << 20, MARGIN = 64;

    /** Reads a region in windows (bounded memory; a pattern is never cut at a window's edge). */
    private void forEachWindow(Code c, Visitor v) {
        long size = Math.min(c.size(), elf.bytes().size() - c.offset());
        if (size <= 0) return;
        byte[] buf = new byte[(int) Math.min(size, STEP + MARGIN)];
        for (long core = 0; core < size; core += STEP) {
            long end = Math.min(size, core + STEP + MARGIN);
            int len = (int) (end - core);
            elf.bytes().readBulk(c.offset() + core, buf, 0, len);
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, len).order(ByteOrder.LITTLE_ENDIAN);
            v.visit(bb, c.vaddr() + core, 0, (int) Math.min(STEP, size - core));
        }
    }
}

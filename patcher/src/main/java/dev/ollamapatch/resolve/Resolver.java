package dev.ollamapatch.resolve;

import dev.ollamapatch.elf.DynamicEntry;
import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.Symbol;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Works out, for a string in one object of an install, which object's code calls {@code dlopen} with
 * it and so which directory glibc substitutes for {@code $ORIGIN} (DESIGN.md 4a; docs/resolution.md).
 * Pure: reads only the mapped ELF files it is given. The rules, in order:
 * <ol>
 * <li>a DT_NEEDED entry: the object that has the entry;</li>
 * <li>code forms the string's address and, within a few instructions, calls {@code dlopen}: that object;
 *     jumps to {@code dlopen} (a tail call): the objects that call the function it is in;</li>
 * <li>the address is handed to another object's function (an import defined in the install) that calls
 *     {@code dlopen}: that object; that jumps to it: the object that handed it;</li>
 * <li>nothing near the string decides (a table of names tried in a loop, Go code that copies the name for a
 *     cgo helper): the object itself, when every one of its {@code dlopen} calls is an ordinary call and it
 *     calls no function of another member that calls {@code dlopen}; otherwise unknown;</li>
 * </ol>
 * then the loader: musl never expands {@code $ORIGIN} there, nor glibc in secure-execution mode.
 */
public final class Resolver {
    private static final Set<String> DLOPEN = ObjectCode.DLOPEN;
    private static final int MAX_DEPTH = 4;

    /** One ELF file of the install: where it is (absolute, as installed) and how running it is privileged. */
    public record Member(Path path, ElfFile elf, SecureExecution secure) {
        public Member {
            path = path.toAbsolutePath().normalize();
        }
    }

    private final List<Member> members;
    private final List<ObjectCode> codes = new ArrayList<>();

    public Resolver(List<Member> members) {
        this.members = List.copyOf(members);
        for (Member m : this.members) codes.add(new ObjectCode(m.elf()));
    }

    /**
     * The resolution of the string at {@code [vaddr, vaddr+length)} in {@code object} (a member);
     * {@code dynstr} for a DT_NEEDED entry.
     */
    public Resolution resolve(Path object, long vaddr, int length, boolean dynstr) {
        int o = indexOf(object);
        Member m = members.get(o);
        Resolution base;
        if (dynstr) {
            base = new Resolution(Resolution.How.NEEDED, List.of(dir(m)), m.path(), -1,
                    "DT_NEEDED entry of `" + m.path() + "`", null);
        } else if (!codes.get(o).supported()) {
            base = Resolution.unknown("calls are not analysed for this machine");
        } else {
            base = pointerToDlopen(o).orElseGet(() -> fromCode(o, vaddr, length));
        }
        return withLoader(o, base, dynstr);
    }

    private final java.util.Map<Integer, Optional<Resolution>> pointerToDlopen = new java.util.HashMap<>();

    /**
     * A pointer to dlopen in {@code o}, or in another member it shares functions with (either imports one the
     * other defines, so a pointer can be handed across): calls through it are not followed, and a call made
     * through it as a tail jump hands the choice of {@code $ORIGIN} to code further up, so no caller found
     * near the string can be trusted to be the one. Unknown, then: an absolute path or a refusal.
     */
    private Optional<Resolution> pointerToDlopen(int o) {
        return pointerToDlopen.computeIfAbsent(o, this::findPointerToDlopen);
    }

    private Optional<Resolution> findPointerToDlopen(int o) {
        for (int x = 0; x < members.size(); x++) {
            if (x != o && !shareFunctions(o, x)) continue;
            Optional<String> taken = codes.get(x).dlopenAddressTaken();
            if (taken.isPresent()) {
                return Optional.of(Resolution.unknown(String.format("`%s` takes the address of dlopen (%s)%s; calls "
                        + "through a function pointer are not followed, so the code that calls dlopen with this string "
                        + "cannot be named", members.get(x).path(), taken.get(), x == o ? ""
                        : ", and `" + members.get(o).path() + "` shares functions with it, so the pointer can reach it")));
            }
        }
        return Optional.empty();
    }

    /** Whether one of the two members imports a function the other exports. */
    private boolean shareFunctions(int a, int b) {
        return importsFrom(a, b) || importsFrom(b, a);
    }

    private boolean importsFrom(int user, int definer) {
        for (Symbol s : members.get(definer).elf().dynamicSymbols()) {
            if (s.type() == 2 && s.shndx() != 0 && codes.get(user).imports(s.name())) return true;
        }
        return false;
    }

    /**
     * Computes ahead, on the calling thread, what resolving a string of {@code object} reads from all of
     * its code: its calls to dlopen and whether it takes dlopen's address. Meant for a thread that would
     * otherwise wait while the decision that needs them is still being made; results are identical
     * whoever computes them, and a failure is left for {@link #resolve} to meet in its own words.
     */
    public void warm(Path object) {
        try {
            int o = indexOf(object);
            if (!codes.get(o).supported()) return;
            codes.get(o).dlopenAddressTaken();
            codes.get(o).dlopenCalls();
        } catch (RuntimeException e) {
            // left for the resolution itself
        }
    }

    /** Address-forming instructions found by {@link #prepare}, by object and range. */
    private final java.util.Map<String, List<Long>> prepared = new java.util.HashMap<>();

    /**
     * Finds the code references of several strings of {@code object} in one pass over its code (a pass
     * over a large program's text costs as much as the rest of a resolution); {@link #resolve} then uses them.
     */
    public void prepare(Path object, List<long[]> ranges) {
        int o = indexOf(object);
        if (!codes.get(o).supported() || ranges.isEmpty()) return;
        List<long[]> spans = ranges.stream().map(r -> new long[] {r[0], r[0] + Math.max(r[1], 1)}).toList();
        List<List<Long>> refs = codes.get(o).codeReferencesTo(spans);
        for (int i = 0; i < spans.size(); i++) prepared.put(o + ":" + spans.get(i)[0] + ":" + spans.get(i)[1], refs.get(i));
    }

    private Resolution fromCode(int o, long vaddr, int length) {
        ObjectCode code = codes.get(o);
        long end = vaddr + Math.max(length, 1);
        List<Long> refs = prepared.get(o + ":" + vaddr + ":" + end);
        if (refs == null) refs = code.codeReferencesTo(vaddr, end);
        if (refs.isEmpty()) return sameObject(o, "the string is read from data");
        List<Resolution> parts = new ArrayList<>();
        for (long r : refs) {
            parts.add(fromReference(o, r).orElseGet(() -> sameObject(o, String.format(
                    "the string's address is formed at 0x%x and no call right after it decides", r))));
        }
        return merge(parts);
    }

    /**
     * Nothing near the string decides (a table of names tried in a loop, Go code that copies the name
     * for a cgo helper): the object answers for itself only when every dlopen call in it is an ordinary
     * call and it calls no function of another member that calls dlopen.
     */
    private Resolution sameObject(int o, String why) {
        Member m = members.get(o);
        List<ObjectCode.Branch> calls = codes.get(o).dlopenCalls();
        if (calls.isEmpty()) {
            return Resolution.unknown(why + ", and `" + m.path() + "` does not call dlopen itself");
        }
        if (calls.stream().anyMatch(b -> !b.call())) {
            ObjectCode.Branch jump = calls.stream().filter(b -> !b.call()).findFirst().orElseThrow();
            return Resolution.unknown(String.format("%s, and `%s` also jumps to dlopen (tail call at 0x%x), so its "
                    + "callers may decide", why, m.path(), jump.at()));
        }
        Optional<String> elsewhere = importedDlopenCaller(o);
        if (elsewhere.isPresent()) {
            return Resolution.unknown(why + ", and `" + m.path() + "` also calls " + elsewhere.get()
                    + ", which calls dlopen in another object");
        }
        return new Resolution(Resolution.How.SAME_OBJECT, List.of(dir(m)), m.path(), calls.get(0).at(), String.format(
                "`%s` calls dlopen at 0x%x%s; %s, and every dlopen call in it is an ordinary call", m.path(),
                calls.get(0).at(), calls.size() > 1 ? " (and " + (calls.size() - 1) + " more)" : "", why), null);
    }

    /** A function that {@code o} imports from another member of the install and that calls dlopen there. */
    private Optional<String> importedDlopenCaller(int o) {
        for (int d = 0; d < members.size(); d++) {
            if (d == o) continue;
            for (Symbol s : members.get(d).elf().dynamicSymbols()) {
                if (s.type() != 2 || s.shndx() == 0 || !codes.get(o).imports(s.name()) || DLOPEN.contains(s.name())) continue;
                if (codes.get(d).firstBranchInFunction(s.value(), DLOPEN, s.size()).isPresent()) {
                    return Optional.of(s.name() + " of `" + members.get(d).path() + "`");
                }
            }
        }
        return Optional.empty();
    }

    private Optional<Resolution> fromReference(int o, long ref) {
        Member m = members.get(o);
        ObjectCode code = codes.get(o);
        for (ObjectCode.Branch b : code.branchesAfter(ref)) {
            if (b.symbol() != null && DLOPEN.contains(b.symbol())) {
                if (b.call()) {
                    return Optional.of(new Resolution(Resolution.How.CALL, List.of(dir(m)), m.path(), b.at(), String.format(
                            "`%s` calls dlopen at 0x%x (address formed at 0x%x)", m.path(), b.at(), ref), null));
                }
                return Optional.of(tailCall(o, ref, b));
            }
            if (b.symbol() != null) {
                Optional<Resolution> handed = handed(o, ref, b);
                if (handed.isPresent()) return handed;
                continue; // an import the install does not define (strlen, snprintf, ...): look further
            }
            // A function of this object: if it reaches dlopen, this object's code does the call (a tail
            // jump inside it returns to this object too).
            Optional<Symbol> fn = code.functionAt(b.target());
            Optional<ObjectCode.Branch> inner = code.firstBranchInFunction(b.target(), DLOPEN, fn.map(Symbol::size).orElse(0L));
            if (inner.isPresent() && b.call()) {
                return Optional.of(new Resolution(Resolution.How.CALL, List.of(dir(m)), m.path(), inner.get().at(),
                        String.format("`%s` passes the string to %s at 0x%x, which %s dlopen at 0x%x", m.path(),
                        fn.map(Symbol::name).filter(n -> !n.isEmpty()).orElse(String.format("0x%x", b.target())), b.at(),
                        inner.get().call() ? "calls" : "jumps to", inner.get().at()), null));
            }
        }
        return Optional.empty();
    }

    /** {@code jmp dlopen}: whoever called the function holding {@code ref} is the caller glibc sees. */
    private Resolution tailCall(int o, long ref, ObjectCode.Branch jump) {
        Member m = members.get(o);
        Optional<Symbol> fn = codes.get(o).exportedFunctionAt(ref);
        String start = String.format("`%s` jumps to dlopen at 0x%x (tail call", m.path(), jump.at());
        if (fn.isEmpty()) {
            return new Resolution(Resolution.How.TAIL_CALL, List.of(dir(m)), m.path(), jump.at(), start
                    + ") from a function it does not export, so only its own code calls it", null);
        }
        List<Path> dirs = new ArrayList<>();
        List<String> callers = new ArrayList<>();
        Path firstCaller = null;
        long firstAt = -1;
        Deque<Object[]> work = new ArrayDeque<>();
        work.add(new Object[] {o, fn.get(), 0});
        Set<String> seen = new LinkedHashSet<>();
        boolean incomplete = false;
        while (!work.isEmpty()) {
            Object[] w = work.poll();
            int owner = (Integer) w[0];
            Symbol f = (Symbol) w[1];
            int depth = (Integer) w[2];
            if (!seen.add(owner + ":" + f.name())) continue;
            for (int x = 0; x < members.size(); x++) {
                ObjectCode cx = codes.get(x);
                List<ObjectCode.Branch> bs;
                if (x == owner) bs = cx.branchesTo(Set.of(f.name()), Set.of(f.value()));
                else if (cx.imports(f.name()) && !cx.exported(f.name()).isPresent()) bs = cx.branchesTo(Set.of(f.name()), Set.of());
                else continue;
                for (ObjectCode.Branch b : bs) {
                    Member mx = members.get(x);
                    if (b.call()) {
                        if (!dirs.contains(dir(mx))) dirs.add(dir(mx));
                        callers.add(String.format("`%s` calls %s at 0x%x", mx.path(), f.name(), b.at()));
                        if (firstCaller == null) { firstCaller = mx.path(); firstAt = b.at(); }
                    } else {
                        Optional<Symbol> outer = cx.exportedFunctionAt(b.at());
                        if (outer.isEmpty()) {
                            if (!dirs.contains(dir(mx))) dirs.add(dir(mx));
                            callers.add(String.format("`%s` jumps to %s at 0x%x from a function it does not export",
                                    mx.path(), f.name(), b.at()));
                            if (firstCaller == null) { firstCaller = mx.path(); firstAt = b.at(); }
                        } else if (depth + 1 < MAX_DEPTH) {
                            work.add(new Object[] {x, outer.get(), depth + 1});
                        } else {
                            incomplete = true;
                        }
                    }
                }
            }
        }
        String what = start + String.format(" at the end of %s)", fn.get().name());
        if (dirs.isEmpty() || incomplete) {
            return Resolution.unknown(what + (dirs.isEmpty()
                    ? "; no object of this install calls " + fn.get().name() + ", so the directory is the unknown caller's"
                    : "; its callers are reached through more than " + MAX_DEPTH + " tail calls"));
        }
        return new Resolution(Resolution.How.TAIL_CALL, dirs, firstCaller, firstAt,
                what + "; " + String.join(", ", callers), null);
    }

    /** The string is handed to {@code b.symbol()}, defined by another member: does that function call dlopen? */
    private Optional<Resolution> handed(int o, long ref, ObjectCode.Branch b) {
        Member m = members.get(o);
        for (int d = 0; d < members.size(); d++) {
            if (d == o) continue;
            Optional<Symbol> g = codes.get(d).exported(b.symbol());
            if (g.isEmpty()) continue;
            Optional<ObjectCode.Branch> inner = codes.get(d).firstBranchInFunction(g.get().value(), DLOPEN, g.get().size());
            if (inner.isEmpty()) continue;
            Member md = members.get(d);
            if (inner.get().call()) {
                return Optional.of(new Resolution(Resolution.How.HANDED, List.of(dir(md)), md.path(), inner.get().at(),
                        String.format("`%s` hands the string to %s at 0x%x; `%s` calls dlopen at 0x%x", m.path(),
                                b.symbol(), b.at(), md.path(), inner.get().at()), null));
            }
            if (b.call()) {
                return Optional.of(new Resolution(Resolution.How.HANDED, List.of(dir(m)), m.path(), b.at(),
                        String.format("`%s` calls %s at 0x%x, which jumps to dlopen at 0x%x in `%s` (tail call): the "
                                + "call in `%s` decides", m.path(), b.symbol(), b.at(), inner.get().at(), md.path(), m.path()),
                        null));
            }
            return Optional.of(Resolution.unknown(String.format("`%s` jumps to %s at 0x%x, which jumps to dlopen: "
                    + "the caller is further up", m.path(), b.symbol(), b.at())));
        }
        return Optional.empty();
    }

    /** Several references to one string: every directory any of them names; unknown if any is unknown. */
    private static Resolution merge(List<Resolution> parts) {
        for (Resolution r : parts) {
            if (r.how() == Resolution.How.UNKNOWN) return r;
        }
        List<Resolution> sorted = new ArrayList<>(parts);
        sorted.sort(java.util.Comparator.comparing(Resolution::how)); // the most direct evidence first
        Resolution first = sorted.get(0);
        Set<Path> dirs = new LinkedHashSet<>();
        for (Resolution r : sorted) dirs.addAll(r.directories());
        if (dirs.size() == first.directories().size()) {
            return sorted.size() == 1 ? first : new Resolution(first.how(), first.directories(), first.caller(),
                    first.callAt(), first.detail() + String.format(" (%d more references agree)", sorted.size() - 1), null);
        }
        Set<String> details = new LinkedHashSet<>();
        for (Resolution r : sorted) details.add(r.detail());
        return new Resolution(first.how(), new ArrayList<>(dirs), first.caller(), first.callAt(),
                String.join("; ", details), null);
    }

    // ---------------------------------------------------------------- the loader

    private Resolution withLoader(int o, Resolution r, boolean dynstr) {
        if (r.how() == Resolution.How.UNKNOWN) return r;
        int caller = r.caller() == null ? o : indexOf(r.caller());
        List<Integer> programs = programsRunning(caller);
        Loader loader = Loader.of(members.get(caller).elf());
        if (loader == Loader.UNKNOWN) {
            for (int p : programs) {
                Loader l = Loader.of(members.get(p).elf());
                if (l == Loader.MUSL || loader == Loader.UNKNOWN) loader = l;
            }
        }
        if (loader == Loader.MUSL) {
            String interp = programs.stream().map(p -> Loader.interpreter(members.get(p).elf())).flatMap(Optional::stream)
                    .findFirst().orElse("musl's ld.so");
            return r.blockedBy(dynstr
                    ? "musl (" + interp + ") opens a DT_NEEDED path literally: with $ORIGIN in it the program does not start"
                    : "musl (" + interp + ") opens a dlopen argument literally; it expands $ORIGIN only in DT_RPATH/DT_RUNPATH");
        }
        if (loader == Loader.UNKNOWN) {
            return r.blockedBy("no PT_INTERP or C library in DT_NEEDED says which loader runs `" + members.get(caller).path() + "`");
        }
        for (int p : programs) {
            SecureExecution s = members.get(p).secure();
            if (s.secure()) {
                return r.blockedBy("`" + members.get(p).path() + "` runs in secure-execution mode for a normal user ("
                        + s.why() + "): glibc then expands $ORIGIN only where it begins the path, and in a program only into "
                        + "trusted system directories; a '/'-padded site never begins with it");
            }
        }
        return r;
    }

    /** The executables of the install whose process may run code of {@code object}: itself, or those that need it. */
    private List<Integer> programsRunning(int object) {
        if (isProgram(object)) return List.of(object);
        List<Integer> needing = new ArrayList<>();
        List<Integer> all = new ArrayList<>();
        for (int p = 0; p < members.size(); p++) {
            if (!isProgram(p)) continue;
            all.add(p);
            if (needsTransitively(p, object, new LinkedHashSet<>())) needing.add(p);
        }
        return needing.isEmpty() ? all : needing;
    }

    private boolean needsTransitively(int from, int object, Set<Integer> seen) {
        if (!seen.add(from)) return false;
        for (DynamicEntry d : members.get(from).elf().dynamic()) {
            if (d.tag() != ElfConstants.DT_NEEDED || d.string() == null) continue;
            for (int x = 0; x < members.size(); x++) {
                if (x == from || !providesName(x, d.string())) continue;
                if (x == object || needsTransitively(x, object, seen)) return true;
            }
        }
        return false;
    }

    private boolean providesName(int x, String needed) {
        Member m = members.get(x);
        if (m.path().getFileName().toString().equals(needed)) return true;
        return m.elf().dynamic().stream().anyMatch(d -> d.tag() == ElfConstants.DT_SONAME && needed.equals(d.string()));
    }

    private boolean isProgram(int x) {
        return Loader.interpreter(members.get(x).elf()).isPresent();
    }

    private int indexOf(Path object) {
        Path p = object.toAbsolutePath().normalize();
        for (int i = 0; i < members.size(); i++) {
            if (members.get(i).path().equals(p)) return i;
        }
        throw new IllegalArgumentException(object + " is not a member of this install");
    }

    private static Path dir(Member m) {
        return m.path().getParent();
    }
}

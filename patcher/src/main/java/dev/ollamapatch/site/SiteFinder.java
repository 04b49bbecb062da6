package dev.ollamapatch.site;

import dev.ollamapatch.elf.DynamicEntry;
import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.elf.StringTable;
import dev.ollamapatch.elf.Symbol;
import dev.ollamapatch.elf.VersionNeed;
import dev.ollamapatch.elf.VersionNeedAux;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Decides, for every string in a file that contains a library's name, whether it is a locator (and
 * its exact extent), a mention, an unprovable Go string, or a conflict. This is the one place where
 * a site is decided; everything after it (planning, reports, writing) only follows its verdicts.
 *
 * <p>Rules (DESIGN.md sections 3 and 4): a C string runs to its NUL; a Go string's extent is only
 * what a reference proves (a {pointer, length} header, or code that forms the address next to the
 * length); a dynamic-table string runs to its NUL. A string whose whole value is not a locator is a
 * mention and never changes.
 */
public final class SiteFinder {
    /** Strings longer than this are never locators; it bounds the search around each occurrence. */
    static final int MAX_RUN = 4096;

    private SiteFinder() {}

    public static ScanResult scan(ElfFile elf, List<LibraryTarget> libraries) {
        List<Region> regions = Region.of(elf);
        List<Occurrence> occurrences = new ArrayList<>();
        for (LibraryTarget lib : libraries) {
            for (Region r : regions) {
                // Code sections hold no strings; a segment (no section headers) may hold both.
                if (r.exec() && !r.segment()) continue;
                findOccurrences(elf, r, lib, occurrences);
            }
        }
        boolean go = isGo(elf);
        List<Site> sites = new ArrayList<>();
        // Without section headers the dynamic string table lies inside a segment: its entries are decided
        // through the dynamic table below, not as strings in data.
        long[] dynstr = elf.dynamicStrings().map(t -> new long[] {t.fileOffset(), t.fileOffset() + t.size()})
                .orElse(new long[] {0, 0});
        List<Occurrence> dataOccurrences = occurrences.stream()
                .filter(o -> !o.region.dynstr() && (o.at < dynstr[0] || o.at >= dynstr[1])).toList();
        if (!dataOccurrences.isEmpty()) {
            List<long[]> ranges = new ArrayList<>();
            for (Occurrence o : dataOccurrences) {
                ranges.add(new long[] {o.region.vaddrOf(o.runStart), o.region.vaddrOf(o.runEnd) + 1});
            }
            List<Reference> refs = ReferenceCollector.collect(elf, regions, new AddressRanges(ranges));
            TreeMap<Long, List<Reference>> byTarget = new TreeMap<>(Long::compareUnsigned);
            for (Reference ref : refs) byTarget.computeIfAbsent(ref.target(), k -> new ArrayList<>()).add(ref);
            for (Occurrence o : dataOccurrences) sites.addAll(decide(elf, o, byTarget, go));
        }
        sites.addAll(dynamicStringSites(elf, libraries, occurrences));
        return new ScanResult(ElfNames.machine(elf.header().machine()), go,
                ReferenceCollector.codeAnalysis(elf), refuseOverlaps(dedupe(sites)));
    }

    static boolean isGo(ElfFile elf) {
        return elf.goBuildId().isPresent() || elf.section(".go.buildinfo").isPresent()
                || elf.section(".gopclntab").isPresent();
    }

    /** One occurrence of a library's stem, with the NUL-delimited run around it. */
    private record Occurrence(LibraryTarget lib, Region region, long at, long runStart, long runEnd,
                              boolean terminated) {}

    private static void findOccurrences(ElfFile elf, Region r, LibraryTarget lib, List<Occurrence> out) {
        byte[] stem = lib.stemBytes();
        // A census of the whole file that found no stem proves this region holds none: not read again.
        if (NeedleCensus.provesAbsent(elf, stem)) return;
        // One that located the stem gives every place it starts: the region's are those whose bytes lie in it,
        // the matches its own search would find, in the same order.
        long[] located = NeedleCensus.positionsIn(elf, stem);
        if (located != null) {
            long end = r.offset() + Math.min(r.size(), elf.bytes().size() - r.offset());
            for (long at : located) {
                if (at >= r.offset() && at + stem.length <= end) occurrenceAt(elf, r, lib, stem, at, out);
            }
            return;
        }
        ReferenceCollector.forEachWindow(elf, r, (buf, baseVaddr, from, to) -> {
            long windowOffset = r.offsetOf(baseVaddr);
            ByteSearch.forEach(buf, stem, from, to, i -> occurrenceAt(elf, r, lib, stem, windowOffset + i, out));
        });
    }

    /** The stem found at file offset {@code at} of region {@code r}: an occurrence, unless it is part of another name. */
    private static void occurrenceAt(ElfFile elf, Region r, LibraryTarget lib, byte[] stem, long at, List<Occurrence> out) {
        if (!out.isEmpty() && out.get(out.size() - 1).at == at && out.get(out.size() - 1).lib == lib) return;
        // "libcuda" inside "libcudart": another library's name, not this one's (a name continues
        // with '.', as in libcuda.so.1; a message with ':' or a space).
        if (at + stem.length < r.offset() + r.size() && isNameByte(elf.bytes().get(at + stem.length))) return;
        long start = at;
        long floor = Math.max(r.offset(), at - MAX_RUN);
        while (start > floor && elf.bytes().get(start - 1) != 0) start--;
        long end = at + stem.length;
        long ceiling = Math.min(r.offset() + r.size(), at + MAX_RUN);
        while (end < ceiling && elf.bytes().get(end) != 0) end++;
        boolean terminated = end < r.offset() + r.size() && elf.bytes().get(end) == 0
                && (start == r.offset() || elf.bytes().get(start - 1) == 0);
        out.add(new Occurrence(lib, r, at, start, end, terminated));
    }

    private static boolean isNameByte(byte b) {
        return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_';
    }

    private static List<Site> decide(ElfFile elf, Occurrence o, TreeMap<Long, List<Reference>> byTarget,
                                     boolean go) {
        Region r = o.region;
        long runStartV = r.vaddrOf(o.runStart);
        long runEndV = r.vaddrOf(o.runEnd);
        long occV = r.vaddrOf(o.at);
        int stemLen = o.lib.stem().length();
        Map<Long, List<Reference>> inRun = byTarget.subMap(runStartV, true, runEndV, true);

        // Go strings: extents proven by references that carry a length and cover the occurrence. Only a Go
        // program has Go strings; elsewhere a number beside an address is something else (dlopen's flags).
        Map<String, List<Reference>> extents = new LinkedHashMap<>();
        for (List<Reference> list : go ? inRun.values() : List.<List<Reference>>of()) {
            for (Reference ref : list) {
                if (!ref.hasLength() || ref.target() > occV || ref.target() + ref.length() < occV + stemLen) continue;
                if (!r.containsVaddr(ref.target() + ref.length() - 1)) continue;
                // A Go literal naming a file holds no NUL; a "length" that spans one belongs to
                // something else (a C pointer array read as a string header).
                if (containsNul(elf, r.offsetOf(ref.target()), ref.length())) continue;
                extents.computeIfAbsent(ref.target() + ":" + ref.length(), k -> new ArrayList<>()).add(ref);
            }
        }
        List<Site> sites = new ArrayList<>();
        if (!extents.isEmpty()) {
            List<Site> locators = new ArrayList<>();
            List<Site> mentions = new ArrayList<>();
            for (List<Reference> refs : extents.values()) {
                Reference first = refs.get(0);
                long off = r.offsetOf(first.target());
                String text = text(elf, off, (int) first.length());
                List<String> evidence = refs.stream().map(Reference::evidenceWithLength).distinct().toList();
                // Proven by a length and also exactly NUL-bounded: a C string whose length the compiler knew.
                boolean cString = o.terminated && off == o.runStart && off + first.length() == o.runEnd;
                SiteKind kind = cString ? SiteKind.C_STRING : SiteKind.GO_STRING;
                // The consumer decides whether a '*' globs: Go code (filepath.Glob) for a Go string; dlopen,
                // which never globs, for a C string.
                if (cString) {
                    List<String> withNul = new ArrayList<>();
                    withNul.add(nulAt(o.runEnd));
                    withNul.addAll(evidence);
                    evidence = withNul;
                }
                if (o.lib.isLocator(text, kind == SiteKind.GO_STRING)) {
                    locators.add(new Site(off, (int) first.length(), first.target(), r.name(), kind,
                            text, o.lib, Role.LOCATOR, evidence, cString ? innerRefs(inRun, r, runStartV, runEndV)
                            : List.of(), null));
                } else {
                    mentions.add(new Site(off, (int) first.length(), first.target(), r.name(), kind,
                            text, o.lib, Role.MENTION, evidence, List.of(), notALocator(o.lib, text, kind)));
                }
            }
            if (locators.size() == 1 && mentions.isEmpty()) return locators;
            if (locators.isEmpty()) return mentions;
            String why = "references disagree on where this string ends ("
                    + String.join(", ", extents.keySet().stream().map(k -> {
                        String[] p = k.split(":");
                        return "0x" + Long.toHexString(Long.parseLong(p[0])) + "+" + p[1];
                    }).toList()) + "); rewriting one would corrupt another";
            for (Site s : locators) sites.add(conflict(s, why));
            sites.addAll(mentions);
            return sites;
        }

        // A C string starts where a reference points, never earlier: the bytes between the previous NUL
        // and the lowest reference may be anything (constants loaded 16 bytes at a time, other data).
        // A reference at or before the name starts a string that contains it; later ones point inside.
        Map<Long, List<Reference>> atOrBefore = byTarget.subMap(runStartV, true, occV, true);
        if (o.terminated) {
            if (atOrBefore.isEmpty()) {
                String run = text(elf, o.runStart, (int) (o.runEnd - o.runStart));
                boolean could = startsLocator(o.lib, elf, o, false);
                return List.of(new Site(o.at, (int) (o.runEnd - o.at), occV, r.name(), SiteKind.C_STRING,
                        text(elf, o.at, (int) (o.runEnd - o.at)), o.lib, could ? Role.UNPROVEN : Role.MENTION,
                        List.of(nulAt(o.runEnd), "no reference in code or relocated data points at or before it"),
                        List.of(), (could ? "no reference proves where this string starts; left alone"
                                : "part of a longer string that is not a locator; left as is")
                        + " (bytes around it: \"" + Printable.of(excerpt(run, (int) (o.at - o.runStart), stemLen)) + "\")"));
            }
            long startV = atOrBefore.keySet().iterator().next();
            long start = r.offsetOf(startV);
            String str = text(elf, start, (int) (o.runEnd - start));
            List<Long> inner = new ArrayList<>();
            List<String> evidence = new ArrayList<>();
            evidence.add(nulAt(o.runEnd));
            for (Map.Entry<Long, List<Reference>> e : byTarget.subMap(startV, true, runEndV, false).entrySet()) {
                long t = e.getKey();
                List<String> where = e.getValue().stream().map(Reference::evidence).distinct().limit(4).toList();
                if (t == startV) {
                    where.forEach(ev -> evidence.add("starts where " + ev + " points"));
                } else {
                    inner.add(r.offsetOf(t));
                    where.forEach(ev -> evidence.add(String.format("%s points %d bytes in", ev, t - startV)));
                }
            }
            if (o.lib.isLocator(str, false)) {
                return List.of(new Site(start, str.length(), startV, r.name(), SiteKind.C_STRING, str, o.lib,
                        Role.LOCATOR, evidence, inner, null));
            }
            // A locator tail-merged into a longer string that is not one: it cannot change without the other.
            for (long innerOff : inner) {
                String tail = text(elf, innerOff, (int) (o.runEnd - innerOff));
                if (innerOff <= o.at && o.lib.isLocator(tail, false)) {
                    return List.of(new Site(start, str.length(), startV, r.name(), SiteKind.C_STRING, str,
                            o.lib, Role.CONFLICT, evidence, inner, String.format(
                            "the locator \"%s\" at file offset 0x%x is stored as the tail of this longer string, "
                                    + "which must stay as it is", tail, innerOff)));
                }
            }
            return List.of(new Site(start, str.length(), startV, r.name(), SiteKind.C_STRING, str, o.lib,
                    Role.MENTION, evidence, List.of(), notALocator(o.lib, str, SiteKind.C_STRING)));
        }
        // No terminator and no reference with a length: the string's extent is unknown, so only the
        // occurrence itself is reported, with its surroundings in the reason.
        String run = text(elf, o.runStart, (int) (o.runEnd - o.runStart));
        String context = Printable.of(excerpt(run, (int) (o.at - o.runStart), stemLen));
        boolean unproven = go && startsLocator(o.lib, elf, o, true);
        return List.of(new Site(o.at, stemLen, occV, r.name(), go ? SiteKind.GO_STRING : SiteKind.C_STRING,
                o.lib.stem(), o.lib, unproven ? Role.UNPROVEN : Role.MENTION,
                List.of("no NUL terminator", "no reference that carries a length"), List.of(),
                (unproven ? "may be a Go string naming the library, but no reference proves where it ends; left alone"
                        : "part of a longer string that is not a locator; left as is")
                        + " (bytes around it: \"" + context + "\")"));
    }

    private static String nulAt(long offset) {
        return String.format("NUL-terminated (NUL at file offset 0x%x)", offset);
    }

    private static List<Long> innerRefs(Map<Long, List<Reference>> inRun, Region r, long startV, long endV) {
        List<Long> inner = new ArrayList<>();
        for (long t : inRun.keySet()) if (t > startV && t < endV) inner.add(r.offsetOf(t));
        return inner;
    }

    private static boolean containsNul(ElfFile elf, long offset, long length) {
        for (long i = 0; i < length; i++) if (elf.bytes().get(offset + i) == 0) return true;
        return false;
    }

    static String notALocator(LibraryTarget lib, String text, SiteKind kind) {
        boolean word = !text.isEmpty() && text.chars().allMatch(c -> c > ' ' && c < 0x7F && c != '%');
        if (!word) return "a message that mentions " + lib.stem() + "; left as is";
        String last = text.substring(text.lastIndexOf('/') + 1);
        if (LibraryTarget.isGlob(last) && kind != SiteKind.GO_STRING && LibraryTarget.globMatches(last, lib.name())) {
            return "a C string, which dlopen opens as it is (it never globs): its file name part (" + last
                    + ") is not " + lib.name() + " (not a locator); left as is";
        }
        if (LibraryTarget.isGlob(last)) {
            return "a glob pattern whose file name part (" + last + ") does not match " + lib.name()
                    + " (not a locator); left as is";
        }
        if (last.startsWith(lib.stem() + ".so")) {
            return "names " + last + ", another file name than " + lib.name() + " (not a locator; --lib " + last
                    + " retargets it); left as is";
        }
        return "a string that contains " + lib.stem() + " but does not name " + lib.name() + " (not a locator); left as is";
    }

    /** Whether some string starting at a path-token boundary before the occurrence could be a locator. */
    private static boolean startsLocator(LibraryTarget lib, ElfFile elf, Occurrence o, boolean globbed) {
        long tokenStart = o.at;
        while (tokenStart > o.runStart && isPathChar(elf.bytes().get(tokenStart - 1))) tokenStart--;
        long limit = Math.min(o.runEnd, o.at + lib.stem().length() + 16);
        String token = text(elf, tokenStart, (int) (limit - tokenStart));
        for (int k = (int) (o.at - tokenStart) + lib.stem().length(); k <= token.length(); k++) {
            if (lib.isLocator(token.substring(0, k), globbed)) return true;
        }
        return false;
    }

    private static boolean isPathChar(byte b) {
        return b > 0x20 && b < 0x7F && b != '%' && b != '"' && b != '\'';
    }

    private static Site conflict(Site s, String why) {
        return new Site(s.offset(), s.length(), s.vaddr(), s.section(), s.kind(), s.original(), s.library(),
                Role.CONFLICT, s.evidence(), s.innerRefs(), why);
    }

    /** DT_NEEDED and friends: entries of the dynamic string table, up to their NUL. */
    private static List<Site> dynamicStringSites(ElfFile elf, List<LibraryTarget> libraries,
                                                 List<Occurrence> occurrences) {
        List<Site> sites = new ArrayList<>();
        StringTable strtab = elf.dynamicStrings().orElse(null);
        if (strtab == null) return sites;
        // Every index into the table: entries, version needs, symbol names.
        TreeMap<Long, List<String>> indexRefs = new TreeMap<>();
        for (DynamicEntry d : elf.dynamic()) {
            if (d.string() != null) {
                indexRefs.computeIfAbsent(d.value(), k -> new ArrayList<>())
                        .add("DT_" + ElfNames.dynamicTag(d.tag()) + " entry " + d.index());
            }
        }
        for (VersionNeed vn : elf.versionNeeds()) {
            indexRefs.computeIfAbsent(vn.fileIndex(), k -> new ArrayList<>()).add(".gnu.version_r file name");
            for (VersionNeedAux a : vn.aux()) {
                indexRefs.computeIfAbsent(a.nameIndex(), k -> new ArrayList<>()).add(".gnu.version_r version name");
            }
        }
        for (Symbol s : elf.dynamicSymbols()) {
            if (s.nameIndex() != 0) indexRefs.computeIfAbsent(s.nameIndex(), k -> new ArrayList<>())
                    .add(".dynsym name of " + s.name());
        }
        Map<Long, Site> byStart = new TreeMap<>();
        for (DynamicEntry d : elf.dynamic()) {
            if (d.string() == null) continue;
            for (LibraryTarget lib : libraries) {
                if (!d.string().contains(lib.stem())) continue;
                long index = d.value();
                long start = index;
                while (start > 0 && elf.bytes().get(strtab.fileOffset() + start - 1) != 0) start--;
                String run = strtab.get(start);
                long runEnd = start + run.length();
                long offset = strtab.fileOffset() + start;
                List<String> evidence = new ArrayList<>();
                evidence.add("NUL-terminated");
                List<Long> inner = new ArrayList<>();
                for (Map.Entry<Long, List<String>> e : indexRefs.subMap(start, true, runEnd, false).entrySet()) {
                    for (String what : e.getValue()) {
                        evidence.add(e.getKey() == start ? "named by " + what
                                : String.format("%s points %d bytes in", what, e.getKey() - start));
                    }
                    if (e.getKey() != start) inner.add(strtab.fileOffset() + e.getKey());
                }
                long vaddr = elf.vaddrOf(offset).orElse(-1);
                Role role;
                String reason = null;
                if (d.tag() == ElfConstants.DT_SONAME && lib.isLocator(run, false)) {
                    role = Role.MENTION;
                    reason = "DT_SONAME: this file is the library itself; its own name stays";
                } else if (lib.isLocator(run, false)) {
                    role = Role.LOCATOR;
                } else if (lib.isLocator(d.string(), false)) {
                    role = Role.CONFLICT;
                    reason = String.format("\"%s\" is stored as the tail of \"%s\" in .dynstr, which must stay",
                            d.string(), run);
                } else {
                    role = Role.MENTION;
                    reason = "DT_" + ElfNames.dynamicTag(d.tag()) + " mentions " + lib.stem()
                            + " but does not name the library; left as is";
                }
                byStart.putIfAbsent(offset, new Site(offset, run.length(), vaddr, ".dynstr", SiteKind.DYNSTR, run, lib,
                        role, evidence, inner, reason));
            }
        }
        sites.addAll(byStart.values());
        // Any other occurrence inside the table (symbol names and the like) is a mention.
        for (Occurrence o : occurrences) {
            if (!o.region.dynstr()) continue;
            boolean covered = sites.stream().anyMatch(s -> o.at >= s.offset() && o.at < s.end());
            if (!covered) {
                String run = text(elf, o.runStart, (int) (o.runEnd - o.runStart));
                sites.add(new Site(o.runStart, run.length(), elf.vaddrOf(o.runStart).orElse(-1), ".dynstr",
                        SiteKind.DYNSTR, run, o.lib, Role.MENTION, List.of("NUL-terminated"), List.of(),
                        "not named by any dynamic entry; left as is"));
            }
        }
        return sites;
    }

    /** The same bytes decided the same way twice (by two occurrences, or as dynstr and as a C string) count once. */
    private static List<Site> dedupe(List<Site> sites) {
        Map<String, Site> unique = new LinkedHashMap<>();
        for (Site s : sites) unique.putIfAbsent(s.offset() + ":" + s.length() + ":" + s.role(), s);
        List<Site> out = new ArrayList<>(unique.values());
        out.sort(Comparator.comparingLong(Site::offset).thenComparingInt(Site::length));
        return out;
    }

    /**
     * Each occurrence is decided on its own, so two decisions can claim the same bytes (a proven Go
     * extent inside a NUL-bounded run, a dynamic-table entry inside a segment's strings). A locator
     * whose bytes any other site also covers cannot be rewritten without changing that string too:
     * it becomes a conflict, and the plan refuses it.
     */
    private static List<Site> refuseOverlaps(List<Site> sorted) {
        List<Site> out = new ArrayList<>(sorted);
        for (int i = 0; i < out.size(); i++) {
            for (int j = i + 1; j < out.size() && out.get(j).offset() < out.get(i).end(); j++) {
                Site a = out.get(i);
                Site b = out.get(j);
                if (a.role() == Role.LOCATOR) out.set(i, conflict(a, overlapReason(b)));
                if (b.role() == Role.LOCATOR) out.set(j, conflict(b, overlapReason(a)));
            }
        }
        return out;
    }

    private static String overlapReason(Site other) {
        return String.format("shares bytes with the %s %s \"%s\" at file offset 0x%x (%d bytes); rewriting one would "
                + "change the other", other.kind().label(), other.role().name().toLowerCase(),
                Printable.of(other.original()), other.offset(), other.length());
    }

    static String text(ElfFile elf, long offset, int length) {
        byte[] b = new byte[length];
        elf.bytes().read(offset, b, 0, length);
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    private static String excerpt(String run, int at, int len) {
        int from = Math.max(0, at - 24);
        int to = Math.min(run.length(), at + len + 24);
        return run.substring(from, to);
    }
}

package dev.ollamapatch.elf;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import net.fornwall.jelf.ElfDynamicSection;
import net.fornwall.jelf.ElfSectionHeader;
import net.fornwall.jelf.ElfSegment;
import net.fornwall.jelf.ElfSymbolTableSection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compares this library with readelf (binutils) and with jelf on the ELF files of this machine,
 * plus ELF32 and big-endian images made here. Fails if fewer than {@link #MINIMUM} were compared.
 */
class DifferentialIT {
    private static final int MINIMUM = 200;
    private static final int WANTED = 320;
    private static final long MAX_SIZE = 96L << 20; // keeps the run short; big files are covered by ByteSourceTest
    private static final List<String> ROOTS = List.of("/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu",
            "/usr/libexec", "/usr/lib/jvm", "/usr/aarch64-linux-gnu/lib", "/usr/lib/gcc", "/usr/lib/gcc-cross",
            "/usr/i686-linux-gnu", "/usr/lib32", "/usr/lib");

    /** readelf's section type spellings that differ from the spec names ElfNames uses. */
    private static final Map<String, String> READELF_TYPES = Map.of("VERSYM", "GNU_versym", "VERNEED", "GNU_verneed",
            "VERDEF", "GNU_verdef");

    @Test
    void agreesWithReadelfAndJelf(@TempDir Path tmp) throws Exception {
        List<Path> files = new ArrayList<>(generatedFiles(tmp));
        files.addAll(machineFiles(WANTED));
        int compared = 0, jelfCompared = 0, jelfSkipped = 0, elf32 = 0, bigEndian = 0;
        List<String> problems = new ArrayList<>();
        for (Path f : files) {
            ReadelfOutput ref;
            try {
                ref = ReadelfOutput.run(f);
            } catch (IOException e) {
                problems.add(f + ": " + e.getMessage());
                continue;
            }
            try (ElfFile elf = ElfFile.open(f)) {
                compareWithReadelf(f, elf, ref, problems);
                compared++;
                elf32 += elf.is64() ? 0 : 1;
                bigEndian += elf.byteOrder() == ByteOrder.BIG_ENDIAN ? 1 : 0;
                net.fornwall.jelf.ElfFile j;
                try {
                    j = net.fornwall.jelf.ElfFile.from(f.toFile());
                    compareWithJelf(f, elf, j, problems);
                    jelfCompared++;
                } catch (Exception | StackOverflowError | OutOfMemoryError e) {
                    jelfSkipped++; // jelf cannot parse it (e.g. no dynamic string table): not our fault
                }
            } catch (ElfFormatException e) {
                problems.add(f + ": rejected: " + e.getMessage());
            }
            if (problems.size() > 20) {
                break;
            }
        }
        System.out.printf("differential: %d files compared with readelf, %d with jelf (%d skipped by jelf), "
                + "%d ELF32, %d big-endian%n", compared, jelfCompared, jelfSkipped, elf32, bigEndian);
        assertEquals(List.of(), problems);
        assertTrue(compared >= MINIMUM, "only " + compared + " ELF files compared; at least " + MINIMUM + " required");
        assertTrue(elf32 >= 2 && bigEndian >= 2, "ELF32 and big-endian files must be among them");
    }

    private static void compareWithReadelf(Path f, ElfFile elf, ReadelfOutput ref, List<String> problems) {
        // Sections
        List<SectionHeader> secs = elf.sections();
        if (ref.sections().size() != secs.size()) {
            problems.add(f + ": readelf lists " + ref.sections().size() + " sections, we have " + secs.size());
        } else {
            for (ReadelfOutput.Section r : ref.sections()) {
                SectionHeader s = secs.get(r.index());
                String type = ElfNames.sectionType(s.type());
                boolean typeOk = type.startsWith("0x") || type.equals(READELF_TYPES.getOrDefault(r.type(), r.type()));
                if (!r.name().equals(s.name()) || !typeOk || r.addr() != s.addr() || r.offset() != s.offset()
                        || r.size() != s.size() || !r.flags().equals(readelfFlags(s.flags(), r.flags()))) {
                    problems.add(f + ": section " + r + " vs " + s);
                }
            }
        }
        // Segments
        List<ProgramHeader> segs = elf.programHeaders();
        if (ref.segments().size() != segs.size()) {
            problems.add(f + ": readelf lists " + ref.segments().size() + " segments, we have " + segs.size());
        } else {
            for (int i = 0; i < segs.size(); i++) {
                ReadelfOutput.Segment r = ref.segments().get(i);
                ProgramHeader p = segs.get(i);
                String type = ElfNames.programType(p.type());
                if (!(type.startsWith("0x") || type.equals(r.type())) || r.offset() != p.offset()
                        || r.vaddr() != p.vaddr() || r.filesz() != p.filesz() || r.memsz() != p.memsz()
                        || !r.flags().equals(ElfNames.segmentFlags(p.flags()))) {
                    problems.add(f + ": segment " + i + " " + r + " vs " + p);
                }
            }
        }
        // Dynamic entries, up to the first DT_NULL
        List<ReadelfOutput.Dyn> rd = new ArrayList<>();
        for (ReadelfOutput.Dyn d : ref.dynamic()) {
            if (d.tag() == 0) {
                break;
            }
            rd.add(d);
        }
        List<DynamicEntry> dyn = elf.dynamic();
        if (rd.size() != dyn.size()) {
            problems.add(f + ": readelf lists " + rd.size() + " dynamic entries, we have " + dyn.size());
        } else {
            for (int i = 0; i < dyn.size(); i++) {
                ReadelfOutput.Dyn r = rd.get(i);
                DynamicEntry d = dyn.get(i);
                if (r.tag() != d.tag() || r.string() != null && !r.string().equals(d.string())) {
                    problems.add(f + ": dynamic entry " + i + " " + r + " vs " + d);
                }
            }
        }
        // Dynamic symbol names (readelf falls back to DT_SYMTAB without sections; we only read .dynsym)
        if (!secs.isEmpty()) {
            // readelf shows an unnamed STT_SECTION symbol by its section's name
            List<String> names = elf.dynamicSymbols().stream().map(s -> s.type() == 3 && s.name().isEmpty()
                    && s.shndx() < secs.size() ? secs.get(s.shndx()).name() : s.name()).toList();
            if (!ref.dynSymbols().equals(names)) {
                problems.add(f + ": dynamic symbols differ: readelf " + ref.dynSymbols().size() + ", we "
                        + names.size());
            }
        }
    }

    /** Our flags in readelf's letters, keeping readelf's order; letters we do not model are copied. */
    private static String readelfFlags(long flags, String readelf) {
        String letters = "WAXMSILOGTC";
        long[] bits = {0x1, 0x2, 0x4, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800};
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < letters.length(); i++) {
            if ((flags & bits[i]) != 0) {
                out.append(letters.charAt(i));
            }
        }
        for (char c : readelf.toCharArray()) {
            if (letters.indexOf(c) < 0) {
                out.append(c);
            }
        }
        return sortLike(out.toString(), readelf);
    }

    private static String sortLike(String s, String ref) {
        return s.chars().sorted().collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append)
                .toString().equals(ref.chars().sorted().collect(StringBuilder::new, StringBuilder::appendCodePoint,
                        StringBuilder::append).toString()) ? ref : s;
    }

    private static void compareWithJelf(Path f, ElfFile elf, net.fornwall.jelf.ElfFile j, List<String> problems)
            throws Exception {
        List<SectionHeader> secs = elf.sections();
        int jShnum = j.e_shnum & 0xffff;
        if (jShnum != secs.size()) {
            problems.add(f + ": jelf has " + jShnum + " sections, we have " + secs.size());
            return;
        }
        for (int i = 0; i < jShnum; i++) {
            ElfSectionHeader h = j.getSection(i).header;
            SectionHeader s = secs.get(i);
            if (h.sh_type != s.type() || h.sh_addr != s.addr() || h.sh_offset != s.offset() || h.sh_size != s.size()
                    || h.sh_flags != s.flags() || !String.valueOf(h.getName()).equals(s.name()) && i != 0) {
                problems.add(f + ": jelf section " + i + " " + h + " vs " + s);
            }
        }
        for (int i = 0; i < (j.e_phnum & 0xffff); i++) {
            ElfSegment g = j.getProgramHeader(i);
            ProgramHeader p = elf.programHeaders().get(i);
            if (g.p_type != p.type() || g.p_offset != p.offset() || g.p_vaddr != p.vaddr() || g.p_filesz != p.filesz()
                    || g.p_memsz != p.memsz() || g.p_flags != p.flags()) {
                problems.add(f + ": jelf segment " + i + " " + g + " vs " + p);
            }
        }
        ElfDynamicSection jd = j.getDynamicSection();
        if (jd != null) {
            List<long[]> entries = new ArrayList<>();
            for (ElfDynamicSection.ElfDynamicStructure e : jd.entries) {
                if (e.d_tag == 0) {
                    break;
                }
                entries.add(new long[] {e.d_tag, e.d_val_or_ptr});
            }
            List<DynamicEntry> dyn = elf.dynamic();
            if (entries.size() != dyn.size()) {
                problems.add(f + ": jelf has " + entries.size() + " dynamic entries, we have " + dyn.size());
            } else {
                for (int i = 0; i < dyn.size(); i++) {
                    if (entries.get(i)[0] != dyn.get(i).tag() || entries.get(i)[1] != dyn.get(i).value()) {
                        problems.add(f + ": jelf dynamic entry " + i + " differs");
                    }
                }
            }
            List<String> needed = dyn.stream().filter(d -> d.tag() == ElfConstants.DT_NEEDED).map(DynamicEntry::string).toList();
            if (!jd.getNeededLibraries().equals(needed)) {
                problems.add(f + ": jelf NEEDED " + jd.getNeededLibraries() + " vs " + needed);
            }
        }
        ElfSymbolTableSection js = j.getDynamicSymbolTableSection();
        if (js != null) {
            List<String> names = new ArrayList<>();
            for (net.fornwall.jelf.ElfSymbol s : js.symbols) {
                names.add(s.getName() == null ? "" : s.getName());
            }
            if (!names.equals(elf.dynamicSymbols().stream().map(Symbol::name).toList())) {
                problems.add(f + ": jelf dynamic symbol names differ");
            }
        }
    }

    /** ELF32 and big-endian images: from the builder, and from gcc -m32 / cross compilers when they work. */
    private static List<Path> generatedFiles(Path tmp) throws Exception {
        List<Path> out = new ArrayList<>();
        for (boolean is64 : new boolean[] {true, false}) {
            for (ByteOrder order : new ByteOrder[] {ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
                Path p = tmp.resolve("built-" + (is64 ? 64 : 32) + "-" + order);
                Files.write(p, new ElfImageBuilder(is64, order).build());
                Path x = tmp.resolve("built-ext-" + (is64 ? 64 : 32) + "-" + order);
                Files.write(x, new ElfImageBuilder(is64, order).extendedNumbering().build());
                out.add(p);
                out.add(x);
            }
        }
        Path c = tmp.resolve("lib.c");
        Files.writeString(c, "const char *name = \"libnvidia-ml.so.1\"; int f(void) { return name[0]; }\n");
        compile(tmp, out, "m32.o", "gcc", "-m32", "-c", "-fPIC", c.toString(), "-o", tmp.resolve("m32.o").toString());
        if (out.contains(tmp.resolve("m32.o"))) {
            compile(tmp, out, "m32.so", "ld", "-m", "elf_i386", "-shared", "-o", tmp.resolve("m32.so").toString(),
                    tmp.resolve("m32.o").toString());
        }
        compile(tmp, out, "arm64.so", "aarch64-linux-gnu-gcc", "-shared", "-fPIC", "-O2", c.toString(), "-o",
                tmp.resolve("arm64.so").toString());
        return out;
    }

    private static void compile(Path tmp, List<Path> out, String result, String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) {
                out.add(tmp.resolve(result));
            }
        } catch (IOException | InterruptedException e) {
            // the tool is not installed: the builder images still cover ELF32 and big-endian
        }
    }

    /** ELF files by magic, each real file once, spread over the roots so that every root contributes. */
    static List<Path> machineFiles(int wanted) throws IOException {
        Map<String, List<Path>> perRoot = new TreeMap<>();
        Set<Object> seen = new HashSet<>();
        for (String root : ROOTS) {
            Path r = Path.of(root);
            if (!Files.isDirectory(r, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            List<Path> found = new ArrayList<>();
            try (Stream<Path> walk = Files.walk(r)) { // does not follow symbolic links
                walk.sorted().forEach(p -> {
                    try {
                        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                        if (a.isRegularFile() && a.size() >= 52 && a.size() <= MAX_SIZE && found.size() < wanted
                                && isElf(p) && seen.add(a.fileKey() != null ? a.fileKey() : p.toRealPath())) {
                            found.add(p);
                        }
                    } catch (IOException e) {
                        // unreadable: skip
                    }
                });
            } catch (java.io.UncheckedIOException e) {
                // a directory vanished or is unreadable mid-walk: use what was found
            }
            perRoot.put(root, found);
        }
        List<Path> out = new ArrayList<>();
        for (int i = 0; out.size() < wanted; i++) {
            boolean any = false;
            for (List<Path> l : perRoot.values()) {
                if (i < l.size() && out.size() < wanted) {
                    out.add(l.get(i));
                    any = true;
                }
            }
            if (!any) {
                break;
            }
        }
        return out;
    }

    private static boolean isElf(Path p) {
        try (var in = Files.newInputStream(p)) {
            byte[] m = in.readNBytes(4);
            return m.length == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
        } catch (IOException e) {
            return false;
        }
    }
}

package dev.ollamapatch.elf;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The parts of {@code readelf -W -h -l -S -d --dyn-syms} output that the differential test compares. */
record ReadelfOutput(List<Section> sections, List<Segment> segments, List<Dyn> dynamic, List<String> dynSymbols,
                     boolean sawSectionTable) {

    record Section(int index, String name, String type, long addr, long offset, long size, String flags) {
    }

    record Segment(String type, long offset, long vaddr, long filesz, long memsz, String flags) {
    }

    record Dyn(long tag, String string) {
    }

    private static final Pattern SEGMENT = Pattern.compile(
            "^\\s+(\\S+)\\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) (.{3}) 0x[0-9a-f]+$");
    private static final Pattern DYN = Pattern.compile("^\\s*0x([0-9a-f]+) \\((\\S+)\\)\\s+(.*)$");
    private static final Pattern DYN_STRING = Pattern.compile(
            "^(?:Shared library|Library soname|Library rpath|Library runpath|Auxiliary library|Filter library|Audit library|Dependency audit library|Configuration file): \\[(.*)\\]$");
    private static final Pattern SYM = Pattern.compile("^\\s*(\\d+): [0-9a-f]+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\S+ ?(.*)$");

    static ReadelfOutput run(Path file) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("readelf", "-W", "-h", "-l", "-S", "-d", "--dyn-syms", file.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("readelf timed out on " + file);
        }
        return parse(new String(out, StandardCharsets.UTF_8));
    }

    static ReadelfOutput parse(String text) {
        List<Section> sections = new ArrayList<>();
        List<Segment> segments = new ArrayList<>();
        List<Dyn> dynamic = new ArrayList<>();
        List<String> syms = new ArrayList<>();
        String mode = "";
        boolean sawSections = false;
        for (String line : text.split("\n")) {
            if (line.startsWith("Section Headers:")) {
                mode = "S";
                sawSections = true;
                continue;
            } else if (line.startsWith("Program Headers:")) {
                mode = "P";
                continue;
            } else if (line.startsWith("Dynamic section at offset")) {
                mode = "D";
                continue;
            } else if (line.startsWith("Symbol table '.dynsym'")) {
                mode = "Y";
                continue;
            } else if (line.startsWith("Key to Flags") || line.startsWith(" Section to Segment")
                    || line.startsWith("Symbol table '")) {
                mode = "";
                continue;
            }
            switch (mode) {
                case "S" -> {
                    Section s = section(line);
                    if (s != null) {
                        sections.add(s);
                    }
                }
                case "P" -> {
                    Matcher m = SEGMENT.matcher(line);
                    if (m.matches()) {
                        segments.add(new Segment(m.group(1), hex(m.group(2)), hex(m.group(3)), hex(m.group(5)),
                                hex(m.group(6)), m.group(7)));
                    }
                }
                case "D" -> {
                    Matcher m = DYN.matcher(line);
                    if (m.matches()) {
                        Matcher s = DYN_STRING.matcher(m.group(3).trim());
                        dynamic.add(new Dyn(Long.parseUnsignedLong(m.group(1), 16), s.matches() ? s.group(1) : null));
                    }
                }
                case "Y" -> {
                    Matcher m = SYM.matcher(line);
                    if (m.matches()) {
                        String name = m.group(2);
                        int at = name.indexOf('@'); // readelf appends @VERSION / @@VERSION (n)
                        if (at > 0) {
                            name = name.substring(0, at);
                        } else if (name.endsWith(")") && name.contains(" (")) {
                            name = name.substring(0, name.lastIndexOf(" ("));
                        }
                        syms.add(name);
                    }
                }
                default -> {
                }
            }
        }
        return new ReadelfOutput(sections, segments, dynamic, syms, sawSections);
    }

    /** "  [ 1] .interp  PROGBITS  0000000000000318 000318 00001c 00   A  0   0  1" (name empty for [0]). */
    private static Section section(String line) {
        int open = line.indexOf('['), close = line.indexOf(']');
        if (open < 0 || close < open || !line.substring(open + 1, close).trim().matches("\\d+")) {
            return null;
        }
        int index = Integer.parseInt(line.substring(open + 1, close).trim());
        String[] t = line.substring(close + 1).trim().split("\\s+");
        for (int i = 0; i + 4 < t.length; i++) {
            if (t[i + 1].matches("[0-9a-f]{8}|[0-9a-f]{16}") && t[i + 2].matches("[0-9a-f]+")
                    && t[i + 3].matches("[0-9a-f]+") && t[i + 4].matches("[0-9a-f]{2}")) {
                String name = String.join(" ", List.of(t).subList(0, i));
                String flags = String.join("", List.of(t).subList(i + 5, t.length - 3));
                return new Section(index, name, t[i], hex(t[i + 1]), hex(t[i + 2]), hex(t[i + 3]), flags);
            }
        }
        return null;
    }

    private static long hex(String s) {
        return Long.parseUnsignedLong(s, 16);
    }
}

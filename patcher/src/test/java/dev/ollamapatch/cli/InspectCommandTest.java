package dev.ollamapatch.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.report.PatchException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code inspect FILE [--json]}, checked against readelf on /bin/ls. */
class InspectCommandTest {
    private static final Path LS = Path.of("/bin/ls");

    /** Runs the command alone (without Main), capturing stdout; returns {exit code, stdout}. */
    private static Object[] run(String... args) {
        StringWriter out = new StringWriter();
        CommandLine cmd = new CommandLine(new InspectCommand());
        cmd.setOut(new PrintWriter(out));
        cmd.setErr(new PrintWriter(new StringWriter()));
        int code = cmd.execute(args);
        return new Object[] {code, out.toString()};
    }

    private static String readelf(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("readelf", "-W"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor());
        return text;
    }

    @Test
    void jsonAgreesWithReadelfOnEverySectionAndSegment() throws Exception {
        Object[] r = run(LS.toString(), "--json");
        assertEquals(0, r[0]);
        JsonNode doc = new ObjectMapper().readTree((String) r[1]);
        assertEquals(64, doc.get("class").asInt());
        assertEquals("little", doc.get("data").asText());
        assertEquals("x86_64", doc.get("machine").asText());
        assertTrue(doc.get("entry").isIntegralNumber(), "numbers are plain integers");

        String text = readelf("-S", "-l", LS.toString());
        // Sections: "  [ 1] .interp  PROGBITS  0000000000000318 000318 00001c 00   A  0   0  1"
        Map<String, String> readelfTypes = Map.of("VERSYM", "GNU_versym", "VERNEED", "GNU_verneed", "VERDEF", "GNU_verdef");
        Pattern sec = Pattern.compile("^\\s*\\[\\s*(\\d+)\\]\\s+(\\S*)\\s+(\\S+)\\s+([0-9a-f]{16})\\s+([0-9a-f]+)\\s+([0-9a-f]+)\\s.*$");
        JsonNode sections = doc.get("sections");
        int seen = 0;
        for (String line : text.split("\n")) {
            Matcher m = sec.matcher(line);
            if (!m.matches()) {
                continue;
            }
            int index = Integer.parseInt(m.group(1));
            JsonNode s = sections.get(index);
            boolean nullSection = index == 0; // readelf prints no name, so its type lands in the name column
            assertEquals(index, s.get("index").asInt());
            assertEquals(nullSection ? "" : m.group(2), s.get("name").asText(), line);
            assertEquals(readelfTypes.getOrDefault(m.group(3), m.group(3)), s.get("type").asText(), line);
            assertEquals(Long.parseLong(m.group(4), 16), s.get("addr").asLong(), line);
            assertEquals(Long.parseLong(m.group(5), 16), s.get("offset").asLong(), line);
            assertEquals(Long.parseLong(m.group(6), 16), s.get("size").asLong(), line);
            seen++;
        }
        assertEquals(sections.size(), seen, "every section, index 0 included");
        assertEquals("NULL", sections.get(0).get("type").asText());

        // Segments: "  LOAD  0x000000 0x0000000000000000 0x0000000000000000 0x0036a8 0x0036a8 R   0x1000"
        Pattern seg = Pattern.compile(
                "^\\s+(\\S+)\\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x[0-9a-f]+ 0x([0-9a-f]+) 0x([0-9a-f]+) (.{3}) 0x[0-9a-f]+$");
        JsonNode segments = doc.get("segments");
        int i = 0;
        for (String line : text.split("\n")) {
            Matcher m = seg.matcher(line);
            if (!m.matches()) {
                continue;
            }
            JsonNode s = segments.get(i++);
            assertEquals(m.group(1), s.get("type").asText(), line);
            assertEquals(Long.parseLong(m.group(2), 16), s.get("offset").asLong(), line);
            assertEquals(Long.parseLong(m.group(3), 16), s.get("vaddr").asLong(), line);
            assertEquals(Long.parseLong(m.group(4), 16), s.get("filesz").asLong(), line);
            assertEquals(Long.parseLong(m.group(5), 16), s.get("memsz").asLong(), line);
            assertEquals(m.group(6), s.get("flags").asText(), line);
        }
        assertEquals(segments.size(), i, "every segment");
        assertTrue(i > 0);
    }

    @Test
    void jsonListsDynamicEntriesWithStringValuesForStringTags() throws Exception {
        JsonNode doc = new ObjectMapper().readTree((String) run(LS.toString(), "--json")[1]);
        List<String> needed = new ArrayList<>();
        boolean numeric = false;
        for (JsonNode d : doc.get("dynamic")) {
            if (d.get("tag").asText().equals("NEEDED")) {
                needed.add(d.get("value").asText());
            } else if (d.get("tag").asText().equals("STRSZ")) {
                numeric = d.get("value").isIntegralNumber();
            }
        }
        List<String> expected = new ArrayList<>();
        Matcher m = Pattern.compile("\\(NEEDED\\)\\s+Shared library: \\[(.*)\\]").matcher(readelf("-d", LS.toString()));
        while (m.find()) {
            expected.add(m.group(1));
        }
        assertEquals(expected, needed);
        assertTrue(numeric, "non-string tags carry numbers");
    }

    @Test
    void textLooksLikeReadelf() {
        Object[] r = run(LS.toString());
        assertEquals(0, r[0]);
        String text = (String) r[1];
        assertTrue(text.contains("Program Headers:"));
        assertTrue(text.contains("Section Headers:"));
        assertTrue(text.contains(".dynstr"));
        assertTrue(text.contains("(NEEDED)"));
    }

    @Test
    void malformedInputIsInvalidInputNamingTheFile(@TempDir Path dir) throws Exception {
        Path notElf = Files.writeString(dir.resolve("script.sh"), "#!/bin/sh\n");
        CommandLine cmd = new CommandLine(new InspectCommand());
        List<Throwable> thrown = new ArrayList<>();
        cmd.setExecutionExceptionHandler((ex, c, parsed) -> {
            thrown.add(ex);
            return ExitCodes.INVALID_INPUT;
        });
        assertEquals(ExitCodes.INVALID_INPUT, cmd.execute(notElf.toString(), "--json"));
        PatchException p = assertInstanceOf(PatchException.class, thrown.get(0));
        assertEquals(PatchException.Kind.INVALID_INPUT, p.kind());
        assertInstanceOf(ElfFormatException.class, p.getCause());
        assertTrue(p.getMessage().startsWith(notElf + ": "), p.getMessage());
        assertTrue(p.getMessage().contains("not an ELF file"));
    }
}

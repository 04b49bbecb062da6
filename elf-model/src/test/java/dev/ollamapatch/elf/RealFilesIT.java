package dev.ollamapatch.elf;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The lazily parsed views on real binaries, checked against readelf -r / -V / -n. */
class RealFilesIT {
    private static final Path LS = Path.of("/bin/ls");

    private static String readelf(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("readelf", "-W"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return s;
    }

    @Test
    void relocationsVersionNeedsAndBuildIdOfLs() throws Exception {
        try (ElfFile elf = ElfFile.open(LS)) {
            String relocs = readelf("-r", LS.toString());
            long relative = relocs.lines().filter(l -> l.contains("R_X86_64_RELATIVE")).count();
            assertEquals(relative, elf.relativeRelocations().size());
            // readelf prints "offset info type symvalue symname + addend" for RELATIVE as "offset info type addend"
            Matcher m = Pattern.compile("(?m)^([0-9a-f]+)\\s+[0-9a-f]+\\s+R_X86_64_RELATIVE\\s+([0-9a-f]+)$").matcher(relocs);
            int checked = 0;
            while (m.find()) {
                long place = Long.parseUnsignedLong(m.group(1), 16);
                assertEquals(Long.parseUnsignedLong(m.group(2), 16), elf.relativeRelocations().targetAt(place).orElseThrow());
                checked++;
            }
            assertEquals(relative, checked);
            long all = relocs.lines().filter(l -> l.matches("^[0-9a-f]{16}\\s+[0-9a-f]{16}\\s+R_.*")).count();
            assertEquals(all, elf.relocations().size());

            String versions = readelf("-V", LS.toString());
            for (VersionNeed n : elf.versionNeeds()) {
                assertTrue(versions.contains("File: " + n.file()), n.file());
                for (VersionNeedAux a : n.aux()) {
                    assertTrue(versions.contains("Name: " + a.name()), a.name());
                }
            }
            assertTrue(elf.versionNeeds().stream().anyMatch(n -> n.file().equals("libc.so.6")));

            String notes = readelf("-n", LS.toString());
            assertTrue(notes.contains("Build ID: " + elf.gnuBuildId().orElseThrow()));
        }
    }

    @Test
    void goBuildIdOfAGoBinary(@TempDir Path dir) throws Exception {
        Path go = Path.of("/usr/local/go/bin/go");
        assumeTrue(Files.isExecutable(go), "no Go toolchain");
        Files.writeString(dir.resolve("main.go"), "package main\nfunc main() { println(\"libnvidia-ml.so.1\") }\n");
        Files.writeString(dir.resolve("go.mod"), "module example.com/t\ngo 1.20\n");
        ProcessBuilder pb = new ProcessBuilder(go.toString(), "build", "-buildmode=pie", "-ldflags=-s -w", "-o", "t", ".")
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("GOCACHE", dir.resolve("cache").toString());
        pb.environment().put("GOFLAGS", "-mod=mod");
        pb.environment().put("GOTOOLCHAIN", "local");
        Process p = pb.start();
        assumeTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, "go build failed");
        try (ElfFile elf = ElfFile.open(dir.resolve("t"))) {
            String id = elf.goBuildId().orElseThrow();
            Process b = new ProcessBuilder(go.toString(), "tool", "buildid", dir.resolve("t").toString()).start();
            String expected = new String(b.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            b.waitFor();
            assertEquals(expected, id, "as `go tool buildid` reports it");
            assertTrue(elf.symbols().isEmpty(), "-s strips .symtab");
            assertTrue(elf.relativeRelocations().size() > 1000, "a PIE Go binary relocates its string headers");
        }
    }
}

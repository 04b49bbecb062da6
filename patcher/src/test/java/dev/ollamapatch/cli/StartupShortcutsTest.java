package dev.ollamapatch.cli;

import dev.ollamapatch.patch.Cli;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What start-up skips (issue 21) changes nothing a user sees: {@code --version} alone prints exactly
 * what picocli prints, and a run that names a subcommand gets the same command as with the full model.
 */
class StartupShortcutsTest {
    @org.junit.jupiter.api.io.TempDir
    Path dir;

    /** The shortcut for {@code apply --quiet TARGET}, as main() runs it; null: left to picocli. */
    private static Cli.Result quietApply(Object target) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Integer code = Main.quietApply(String.valueOf(target), new PrintWriter(out, true), new PrintWriter(err, true));
        return code == null ? null : new Cli.Result(code, out.toString(), err.toString());
    }

    @Test
    void quietApplyWithoutPicocliEndsAsPicocliDoes() throws Exception {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Files.createDirectories(a);
        Files.createDirectories(b);
        for (Path d : new Path[] {a, b}) {
            Files.copy(dev.ollamapatch.patch.Fixtures.binary("x86_64", "release", "gen-c"), d.resolve("ollama"));
            Files.writeString(d.resolve("notes.txt"), "not an ELF file");
        }
        // Each case twice: through picocli in a, through the shortcut in b; same exit, same words.
        for (String name : new String[] {"ollama", "ollama", "missing", "notes.txt"}) {
            Cli.Result picocli = Cli.run("apply", "--quiet", a.resolve(name));
            Cli.Result shortcut = quietApply(b.resolve(name));
            assertTrue(shortcut != null, name);
            assertEquals(picocli.exit(), shortcut.exit(), name + ": " + shortcut);
            assertEquals(picocli.out(), shortcut.out(), name);
            assertEquals(picocli.err().replace(a.toString(), b.toString()), shortcut.err(), name);
        }
        assertArrayEquals(Files.readAllBytes(a.resolve("ollama")), Files.readAllBytes(b.resolve("ollama")));
        assertArrayEquals(Files.readAllBytes(a.resolve("nvml.so")), Files.readAllBytes(b.resolve("nvml.so")));
    }

    @Test
    void quietApplyLeavesOptionsAtFilesArchivesAndImagesToPicocli() throws Exception {
        Path tgz = dir.resolve("ollama-linux-amd64.tgz");
        try (var out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(tgz))) {
            out.write(new byte[1024]);  // an empty tar: two zero blocks
        }
        assertEquals(null, quietApply("--help"));
        assertEquals(null, quietApply("@args.txt"));
        assertEquals(null, quietApply(""));
        assertEquals(null, quietApply(tgz), "a release archive needs -o: picocli's path says so");
    }

    @Test
    void theShortcutPrintsWhatPicocliPrints() throws Exception {
        Cli.Result picocli = Cli.run("--version");            // through the command-line model
        assertEquals(0, picocli.exit(), picocli.toString());
        assertTrue(picocli.out().startsWith("ollama-patch "), picocli.toString());
        for (String flag : new String[] {"--version", "-V"}) {
            Cli.Result shortcut = Cli.runProcess(flag);         // main(): the shortcut
            assertEquals(0, shortcut.exit(), shortcut.toString());
            assertEquals(picocli.out(), shortcut.out(), flag);
            assertEquals("", shortcut.err(), flag);
        }
    }

    @Test
    void versionWithAnythingElseIsStillParsedByPicocli() throws Exception {
        for (String[] args : new String[][] {{"--version", "--no-such-option"}, {"-V", "scan"}, {"--debug", "--version"}}) {
            Cli.Result picocli = Cli.run((Object[]) args);
            Cli.Result process = Cli.runProcess((Object[]) args);
            assertEquals(picocli.toString(), process.toString(), String.join(" ", args));
        }
    }

    @Test
    void aSubcommandAloneHasTheSameModelAsInTheFullCommandLine() {
        Map<String, CommandLine> full = new CommandLine(new Main()).getSubcommands();
        for (Map.Entry<String, CommandLine> e : full.entrySet()) {
            Map<String, CommandLine> lazy = Main.commandLine(e.getKey(), "--help").getSubcommands();
            assertEquals(java.util.Set.of(e.getKey()), lazy.keySet(), "only the subcommand named is built");
            assertEquals(e.getValue().getUsageMessage(), lazy.get(e.getKey()).getUsageMessage(), e.getKey());
            assertEquals(e.getValue().getCommandSpec().qualifiedName(), lazy.get(e.getKey()).getCommandSpec().qualifiedName());
        }
        assertEquals(full.keySet(), Main.commandLine("--help").getSubcommands().keySet(), "no subcommand named: all of them");
        assertEquals(full.keySet(), Main.commandLine("aply").getSubcommands().keySet(), "a typo gets the full model");
    }
}

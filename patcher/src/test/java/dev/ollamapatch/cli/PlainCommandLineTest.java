package dev.ollamapatch.cli;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The plain command lines read without picocli (issue 21, start-up) end exactly as picocli's reading of
 * the same words: same exit status, same output and messages, same files written. Every other command
 * line is left to picocli.
 */
class PlainCommandLineTest {
    @TempDir
    Path dir;

    /** Two identical trees: a for picocli, b for the plain reading. */
    private Path tree(String name) throws Exception {
        Path t = dir.resolve(name);
        Files.createDirectories(t.resolve("bin"));
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), t.resolve("bin/ollama"));
        Files.copy(Fixtures.binary("x86_64", "release", "gen-a"), t.resolve("ollama-a"));
        Files.writeString(t.resolve("notes.txt"), "not an ELF file");
        Files.copy(Fixtures.root().resolve("x86_64/stub-nvml/libnvidia-ml.so.1"), t.resolve("shim.so"));
        Files.createDirectories(t.resolve("out"));
        return t;
    }

    private static Cli.Result picocli(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int exit = Main.executeWithPicocli(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Cli.Result(exit, out.toString(), err.toString());
    }

    private static Cli.Result plain(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        assertNotNull(PlainCommandLine.of(args, new PrintWriter(out), new PrintWriter(err)), String.join(" ", args));
        int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Cli.Result(exit, out.toString(), err.toString());
    }

    @Test
    void plainScansAndAppliesEndAsPicocliDoes() throws Exception {
        String[][] cases = {
                {"scan", "T/bin/ollama"},
                {"scan", "--json", "T/bin/ollama"},
                {"scan", "T/bin/ollama", "T/ollama-a"},
                {"scan", "T/bin", "--json"},
                {"scan", "T/missing"},
                {"scan", "--json", "T/notes.txt"},
                {"apply", "--dry-run", "T/bin"},
                {"apply", "T/ollama-a", "-o", "T/out/ollama-a", "--dry-run", "--json"},
                {"apply", "T/bin/ollama", "--output", "T/out/ollama"},
                {"apply", "T/bin/ollama", "-o", "T/out/ollama"},       // OUT exists now
                {"apply", "-q", "T/bin"},
                {"apply", "--quiet", "T/bin", "--json"},
                {"apply", "--json", "T/missing", "-o", "T/out/x"},
                {"apply", "T/notes.txt", "-o", "T/out/notes"},
                {"apply", "T/bin", "-o", "T/out/dir"},
                {"apply", "--shim", "T/shim.so", "T/ollama-a", "-o", "T/out/with-shim"},
                {"apply", "T/ollama-a", "--shim", "T/notes.txt", "-o", "T/out/bad-shim"},
                {"apply", "--dry-run", "T/bin", "--shim", "T/missing.so"},
        };
        // The same tree at the same path for both readings (reports show paths, even in hex dumps): all
        // cases through picocli, the tree moved aside, then all cases again through the plain reading.
        Path t = tree("t");
        List<Cli.Result> viaPicocli = new ArrayList<>();
        for (String[] c : cases) viaPicocli.add(picocli(with(c, t)));
        Path first = dir.resolve("after-picocli");
        Files.move(t, first);
        tree("t");
        for (int i = 0; i < cases.length; i++) {
            Cli.Result viaPlain = plain(with(cases[i], t));
            String what = String.join(" ", cases[i]);
            assertEquals(viaPicocli.get(i).exit(), viaPlain.exit(), what + ": " + viaPlain);
            assertEquals(viaPicocli.get(i).out(), viaPlain.out(), what);
            assertEquals(viaPicocli.get(i).err(), viaPlain.err(), what);
        }
        assertEquals(listing(first), listing(t), "the same files written, and no leftovers in either");
        for (String f : listing(t)) {
            // The manifest records when and, per file, which inode: it differs between any two applies.
            if (Files.isRegularFile(t.resolve(f)) && !f.endsWith(".ollama-patch.json")) {
                assertArrayEquals(Files.readAllBytes(first.resolve(f)), Files.readAllBytes(t.resolve(f)), f);
            }
        }
    }

    private static List<String> listing(Path root) throws java.io.IOException {
        List<String> names = new ArrayList<>();
        try (var files = Files.walk(root)) {
            files.forEach(p -> names.add(root.relativize(p).toString()));
        }
        names.sort(null);
        return names;
    }

    @Test
    void everythingElseIsLeftToPicocli() {
        String[][] others = {
                {"scan"}, {"scan", "--help"}, {"scan", "--json"}, {"scan", "--json", "--json", "x"},
                {"scan", "--", "x"}, {"scan", "@args.txt"}, {"scan", "x", "--lib", "libcuda.so.1"}, {"scan", ""},
                {"apply"}, {"apply", "x", "y"}, {"apply", "-o", "x"}, {"apply", "x", "-o"}, {"apply", "x", "-o", "-y"},
                {"apply", "x", "-o", "y", "-o", "z"}, {"apply", "x", "--output=y"}, {"apply", "-qo", "y", "x"},
                {"apply", "x", "--shim-path", "s"}, {"apply", "x", "--shim", "s", "--shim", "t"}, {"apply", "x", "--shim"},
                {"apply", "x", "--debug"}, {"apply", "-q", "--quiet", "x"},
                {"apply", "--dry-run", "--dry-run", "x"}, {"apply", "x", "--report", "r.json"},
                {"verify", "x"}, {"--debug", "scan", "x"}, {"scan", "x\0y"},
        };
        for (String[] args : others) {
            assertNull(PlainCommandLine.of(args, new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter())),
                    String.join(" ", args));
        }
    }

    private static String[] with(String[] args, Path tree) {
        String[] out = args.clone();
        for (int i = 0; i < out.length; i++) out[i] = out[i].replace("T/", tree + "/");
        return out;
    }
}

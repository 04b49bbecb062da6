package dev.ollamapatch.cli;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every {@code ollama-patch ...} command line quoted in a code block of README.md or docs/*.md parses
 * with the real command line (commands, options and their arities), so that no documented command
 * is one the tool would answer with a usage error.
 */
class DocCommandLinesTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).resolve("..").normalize();

    @TestFactory
    Stream<DynamicTest> everyQuotedCommandLineParses() throws IOException {
        List<Path> docs = new ArrayList<>();
        docs.add(ROOT.resolve("README.md"));
        try (Stream<Path> s = Files.list(ROOT.resolve("docs"))) {
            s.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (Path doc : docs) {
            List<String> lines = commandLines(Files.readString(doc));
            for (String line : lines) {
                tests.add(DynamicTest.dynamicTest(ROOT.relativize(doc) + ": " + line, () -> parses(line)));
            }
        }
        assertTrue(tests.size() >= 10, "expected the docs to quote command lines, found " + tests.size());
        return tests.stream();
    }

    /** Every command's --help ends with examples, and each example parses like the docs' lines. */
    @TestFactory
    Stream<DynamicTest> everyCommandsHelpHasExamplesThatParse() {
        List<DynamicTest> tests = new ArrayList<>();
        List<CommandLine> commands = new ArrayList<>();
        collect(new CommandLine(new Main()), commands);
        for (CommandLine c : commands) {
            if (c.getSubcommands().size() > 0 && c.getParent() == null) continue; // the top level lists commands
            String name = c.getCommandSpec().qualifiedName();
            tests.add(DynamicTest.dynamicTest(name + " --help has examples", () -> {
                String[] footer = c.getCommandSpec().usageMessage().footer();
                List<String> examples = commandLines("```\n" + String.join("\n", footer) + "\n```\n");
                assertTrue(!examples.isEmpty(), name + " --help has no example");
                for (String e : examples) parses(e);
            }));
        }
        return tests.stream();
    }

    private static void collect(CommandLine c, List<CommandLine> out) {
        out.add(c);
        for (CommandLine sub : c.getSubcommands().values()) {
            if (!out.contains(sub) && !sub.getCommandName().equals("help")) collect(sub, out);
        }
    }

    @org.junit.jupiter.api.Test
    void aLineWithAnOptionTheToolDoesNotHaveFails() {
        List<String> found = commandLines("```\nsudo ollama-patch apply --no-such-option /usr/local   # comment\n```\n");
        org.junit.jupiter.api.Assertions.assertEquals(List.of("ollama-patch apply --no-such-option /usr/local"), found);
        org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class, () -> parses(found.get(0)));
    }

    private static void parses(String line) {
        List<String> words = words(line);
        int i = 0;
        while (i < words.size() && !words.get(i).endsWith("ollama-patch") && !words.get(i).equals("$TOOL")) i++;
        List<String> args = words.subList(i + 1, words.size());
        CommandLine cmd = new CommandLine(new Main());
        try {
            cmd.parseArgs(args.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw new AssertionError("'" + line + "' does not parse: " + e.getMessage(), e);
        }
    }

    /** Lines inside ``` blocks that run ollama-patch, continuations joined, comments dropped. */
    static List<String> commandLines(String markdown) {
        List<String> out = new ArrayList<>();
        boolean code = false;
        StringBuilder pending = null;
        for (String raw : markdown.lines().toList()) {
            if (raw.strip().startsWith("```")) { code = !code; pending = null; continue; }
            if (!code) continue;
            String l = raw.strip();
            if (pending != null) {
                pending.append(' ').append(l);
                if (l.endsWith("\\")) { pending.setLength(pending.length() - 1); continue; }
                out.add(dropComment(pending.toString()));
                pending = null;
                continue;
            }
            String w = l.startsWith("sudo ") ? l.substring(5) : l;
            if (!w.matches("^\"?(\\$TOOL|(\\./|\\S*/)?ollama-patch)\"?(\\s.*|$)") && !w.matches("^RUN (\\S*/)?ollama-patch\\s.*")) continue;
            if (w.startsWith("RUN ")) w = w.substring(4);
            if (l.endsWith("\\")) { pending = new StringBuilder(w.substring(0, w.length() - 1)); continue; }
            out.add(dropComment(w));
        }
        return out;
    }

    private static String dropComment(String l) {
        int hash = l.indexOf(" #");
        return (hash >= 0 ? l.substring(0, hash) : l).strip();
    }

    /** Shell words: quotes removed, nothing expanded ($VAR stays a word). */
    static List<String> words(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder b = new StringBuilder();
        boolean any = false;
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quote != 0) {
                if (c == quote) quote = 0; else b.append(c);
            } else if (c == '"' || c == '\'') {
                quote = c; any = true;
            } else if (Character.isWhitespace(c)) {
                if (any || b.length() > 0) out.add(b.toString());
                b.setLength(0); any = false;
            } else if (c == '&' || c == '|' || c == ';' || c == '>' || c == '<') {
                break; // a redirection, or the next command of a chain: not this tool's arguments
            } else {
                b.append(c);
            }
        }
        if (any || b.length() > 0) out.add(b.toString());
        return out;
    }
}

package dev.ollamapatch.cli;

import java.io.PrintWriter;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * The plainest command lines, read without picocli: {@code scan [--json] TARGET...} and
 * {@code apply [--dry-run] [--json] [-q|--quiet] [--shim FILE] TARGET [-o|--output OUT]}, options in any
 * order, each at most once. Building picocli's model (reflection on every option and annotation, proxies for
 * each annotation type, classes whose old class-file version class-data sharing cannot archive) costs
 * a short run 100 to 200 ms of start-up, more than a scan of a 50 MB binary's data (issue 21).
 *
 * <p>The command objects are those picocli would have made: the same fields set to what it sets for
 * these words (every option left out keeps its default), run through the same {@code call()}. Anything
 * else (another option or subcommand, a word that starts with {@code -} or {@code @}, {@code --}, an
 * option given twice, a path that is not one) is left to picocli, which parses, explains and fails as
 * always; {@code PlainCommandLineTest} runs each plain form both ways and compares what a user sees.
 */
final class PlainCommandLine {
    private PlainCommandLine() {}

    /** The command these words name, ready to call; null when picocli should read them. */
    static Callable<Integer> of(String[] args, PrintWriter out, PrintWriter err) {
        if (args.length < 2) return null;
        try {
            return switch (args[0]) {
                case "scan" -> scan(args, out, err);
                case "apply" -> apply(args, out, err);
                default -> null;
            };
        } catch (InvalidPathException e) {
            return null; // picocli says which word is not a path
        }
    }

    private static Callable<Integer> scan(String[] args, PrintWriter out, PrintWriter err) {
        ScanCommand c = new ScanCommand();
        List<Path> targets = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--json") && !c.json) c.json = true;
            else if (operand(a)) targets.add(Path.of(a));
            else return null;
        }
        if (targets.isEmpty()) return null;
        c.targets = targets;
        return withDefaults(c, (l, a, i) -> { c.libraries = l; c.archive = a; c.image = i; c.out = out; c.err = err; });
    }

    private static Callable<Integer> apply(String[] args, PrintWriter out, PrintWriter err) {
        ApplyCommand c = new ApplyCommand();
        boolean quiet = false;
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--dry-run" -> { if (c.dryRun) return null; c.dryRun = true; }
                case "--json" -> { if (c.json) return null; c.json = true; }
                case "-q", "--quiet" -> { if (quiet) return null; quiet = true; }
                case "-o", "--output" -> {
                    if (c.output != null || i + 1 == args.length || !operand(args[i + 1])) return null;
                    c.output = Path.of(args[++i]);
                }
                case "--shim" -> {
                    if (c.shim != null || i + 1 == args.length || !operand(args[i + 1])) return null;
                    c.shim = Path.of(args[++i]);
                }
                default -> {
                    if (c.target != null || !operand(a)) return null;
                    c.target = Path.of(a);
                }
            }
        }
        if (c.target == null) return null;
        c.quiet = quiet;
        return withDefaults(c, (l, a, i) -> { c.libraries = l; c.archive = a; c.image = i; c.out = out; c.err = err; });
    }

    /** Sets a command's mixins as picocli leaves them when none of their options is given. */
    private interface Mixins {
        void set(LibraryOptions libraries, ArchiveOptions archive, ImageOptions image);
    }

    private static Callable<Integer> withDefaults(Callable<Integer> command, Mixins mixins) {
        mixins.set(new LibraryOptions(), archiveDefaults(), new ImageOptions());
        return command;
    }

    /** A word picocli takes as a positional value here: not an option, not an {@code @file}, not empty. */
    private static boolean operand(String a) {
        return !a.isEmpty() && !a.startsWith("-") && !a.startsWith("@");
    }

    /** The archive options as picocli leaves them when none is given: {@code --prefix}'s declared default. */
    private static ArchiveOptions archiveDefaults() {
        ArchiveOptions o = new ArchiveOptions();
        o.prefix = ArchiveOptions.DEFAULT_PREFIX;
        return o;
    }
}

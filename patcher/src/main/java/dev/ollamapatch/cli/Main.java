package dev.ollamapatch.cli;

import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.report.PatchException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * The command line: a thin layer over the patcher library. Its subcommands are listed here (for
 * help, man pages and completion); the options and exit codes of the tool itself are {@link Root}'s.
 */
@Command(subcommands = {ScanCommand.class, ApplyCommand.class, VerifyCommand.class, RestoreCommand.class,
        InspectCommand.class, DoctorCommand.class, ShimConfigCommand.class, ServiceCommand.class})
public final class Main extends Root {
    /**
     * Each subcommand by name. A run that names one builds the model of that one only: picocli
     * builds a command's model by reflection on every option and annotation, and doing that for all
     * of them is a good part of a short run's start-up (an already patched apply, issue 21).
     */
    private static final java.util.Map<String, java.util.function.Supplier<Object>> SUBCOMMANDS = java.util.Map.of(
            "scan", ScanCommand::new, "apply", ApplyCommand::new, "verify", VerifyCommand::new,
            "restore", RestoreCommand::new, "inspect", InspectCommand::new, "doctor", DoctorCommand::new,
            "shim-config", ShimConfigCommand::new, "service", ServiceCommand::new);

    /** The command line for these arguments: the root with only the subcommand they name, or with all. */
    static CommandLine commandLine(String... args) {
        java.util.function.Supplier<Object> named = args.length > 0 ? SUBCOMMANDS.get(args[0]) : null;
        if (named == null) return new CommandLine(new Main());
        CommandLine cmd = new CommandLine(new Root());
        cmd.addSubcommand(named.get());
        return cmd;
    }

    public static void main(String[] args) {
        if (args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"))) {
            // What picocli prints for --version, without building the model of every command first
            // (reflection on each option and annotation: most of what such a run costs).
            for (String line : new Version().getVersion()) System.out.println(line);
            System.exit(ExitCodes.OK);
        }
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        if (args.length == 3 && args[0].equals("apply") && (args[1].equals("--quiet") || args[1].equals("-q"))) {
            Integer code = quietApply(args[2], out, err);
            if (code != null) System.exit(code);
        }
        System.exit(execute(out, err, args));
    }

    /**
     * {@code apply --quiet TARGET} (the systemd drop-in's command line) without picocli, ending as
     * picocli's run of it would: the same exit status and one line on an error. Null when the
     * command line is better left to picocli: TARGET looks like an option or an {@code @file}, is
     * not a path, or is a release archive or a container image.
     */
    static Integer quietApply(String target, PrintWriter out, PrintWriter err) {
        if (target.isEmpty() || target.startsWith("-") || target.startsWith("@")) return null;
        java.nio.file.Path path;
        try {
            path = java.nio.file.Path.of(target);
        } catch (java.nio.file.InvalidPathException e) {
            return null;
        }
        try {
            return ApplyCommand.quietInPlace(path, out, err);
        } catch (Exception ex) {
            err.println("ollama-patch: " + oneLine(ex));
            return exitCode(ex);
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** Runs the tool with the given streams; returns the exit status. */
    public static int execute(PrintWriter stdout, PrintWriter err, String... args) {
        boolean[] wrote = {false};
        PrintWriter out = tracking(stdout, wrote);
        java.util.concurrent.Callable<Integer> plain = PlainCommandLine.of(args, out, err);
        if (plain != null) {
            // As picocli's run of the same words below: the command's status, or its failure in one line
            // (a JSON document with --json, unless a report was printed).
            try {
                return plain.call();
            } catch (Exception ex) {
                return Reports.failure(out, err, jsonAsked(args) && !wrote[0], oneLine(ex), exitCode(ex));
            } finally {
                out.flush();
                stdout.flush();
                err.flush();
            }
        }
        return executeParsed(out, stdout, err, wrote, args);
    }

    /** {@link #execute} through picocli's model of the command line (for tests: whatever the words). */
    static int executeWithPicocli(PrintWriter stdout, PrintWriter err, String... args) {
        boolean[] wrote = {false};
        return executeParsed(tracking(stdout, wrote), stdout, err, wrote, args);
    }

    /** {@code stdout}, noting in {@code wrote[0]} whether anything was written to it. */
    private static PrintWriter tracking(PrintWriter stdout, boolean[] wrote) {
        return new PrintWriter(new java.io.FilterWriter(stdout) {
            @Override public void write(int c) throws IOException { wrote[0] = true; super.write(c); }
            @Override public void write(char[] b, int off, int len) throws IOException { wrote[0] |= len > 0; super.write(b, off, len); }
            @Override public void write(String str, int off, int len) throws IOException { wrote[0] |= len > 0; super.write(str, off, len); }
        }, true);
    }

    private static int executeParsed(PrintWriter out, PrintWriter stdout, PrintWriter err, boolean[] wrote, String... args) {
        CommandLine cmd = commandLine(args);
        cmd.setOut(out);
        cmd.setErr(err);
        cmd.setParameterExceptionHandler((ex, a) -> {
            String line = ElfFormatException.oneLine("ollama-patch: " + ex.getMessage());
            err.println(line);
            if (jsonAsked(a)) {
                // The command line itself may be what failed: --json is read from the words given.
                errorDocument(out, wrote, line.substring("ollama-patch: ".length()), ExitCodes.USAGE);
            } else {
                err.println("try 'ollama-patch " + (ex.getCommandLine() == cmd ? "" : ex.getCommandLine().getCommandName() + " ")
                        + "--help'");
            }
            err.flush();
            return ExitCodes.USAGE;
        });
        cmd.setExecutionExceptionHandler((ex, commandLine, parsed) -> {
            boolean debug = parsed.hasMatchedOption("--debug")
                    || parsed.subcommands().stream().anyMatch(p -> p.hasMatchedOption("--debug"));
            if (debug) ex.printStackTrace(err);
            boolean json = parsed.hasMatchedOption("--json")
                    || parsed.subcommands().stream().anyMatch(p -> p.hasMatchedOption("--json"));
            return Reports.failure(out, err, json && !wrote[0], oneLine(ex), exitCode(ex));
        });
        int code = cmd.execute(args);
        out.flush();
        stdout.flush();
        err.flush();
        return code;
    }

    /**
     * Whether the words of the command line ask for {@code --json}: read from the words themselves,
     * because a command line that failed to parse has no parse result to ask (an unknown option, a
     * missing or bad value). Words after {@code --} are operands, never options.
     */
    static boolean jsonAsked(String[] args) {
        for (String a : args) {
            if (a.equals("--")) return false;
            if (a.equals("--json") || a.equals("--json=true")) return true;
        }
        return false;
    }

    /** --json promises one JSON document on stdout, an error included: unless a report was already printed. */
    private static void errorDocument(PrintWriter out, boolean[] wrote, String message, int exitCode) {
        if (wrote[0]) return;
        out.println(Reports.errorJson(message, exitCode));
        out.flush();
    }

    static int exitCode(Throwable ex) {
        if (ex instanceof PatchException p) return ExitCodes.of(p.kind());
        if (ex instanceof UncheckedIOException u && u.getCause() instanceof NoSuchFileException) return ExitCodes.USAGE;
        if (ex instanceof ElfFormatException) return ExitCodes.INVALID_INPUT;
        return ExitCodes.FAILED;
    }

    /**
     * The error as one line for the user: our own messages as they are, I/O errors as "file: reason",
     * anything else (a bug) by its kind. Never a stack trace; control characters are escaped.
     */
    static String oneLine(Throwable ex) {
        Throwable e = ex instanceof UncheckedIOException u && u.getCause() != null ? u.getCause() : ex;
        String msg;
        if (e instanceof PatchException || e instanceof ElfFormatException) {
            msg = e.getMessage();
        } else if (e instanceof NoSuchFileException f) {
            msg = f.getFile() + ": no such file or directory";
        } else if (e instanceof AccessDeniedException f) {
            msg = f.getFile() + ": permission denied";
        } else if (e instanceof FileAlreadyExistsException f) {
            msg = f.getFile() + ": already exists";
        } else if (e instanceof NotDirectoryException f) {
            msg = f.getFile() + ": not a directory";
        } else if (e instanceof FileSystemException f) {
            msg = f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "") + ": "
                    + (f.getReason() != null ? f.getReason() : "file system error");
        } else if (e instanceof IOException) {
            msg = "I/O error: " + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName());
        } else if (e instanceof OutOfMemoryError) {
            msg = "out of memory (give the JVM more with JAVA_TOOL_OPTIONS=-Xmx...)";
        } else {
            msg = "internal error (" + e.getClass().getSimpleName() + (e.getMessage() != null ? ": " + e.getMessage() : "")
                    + "); please report it with the output of --debug";
        }
        return ElfFormatException.oneLine(msg == null ? e.getClass().getSimpleName() : msg);
    }
}

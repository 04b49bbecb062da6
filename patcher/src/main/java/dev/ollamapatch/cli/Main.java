package dev.ollamapatch.cli;

import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.report.PatchException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/** The command line: a thin layer over the patcher library. */
@Command(name = "ollama-patch", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Makes Ollama load a replacement NVML (a shim) by retargeting, inside its binaries, "
                + "the strings that name libnvidia-ml.so.1.",
        subcommands = {ScanCommand.class, ApplyCommand.class, VerifyCommand.class, RestoreCommand.class,
                InspectCommand.class, DoctorCommand.class, ShimConfigCommand.class, ServiceCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
                "0:done (patched, already patched, or a dry run with sites)",
                "1:failed (I/O or verification); nothing changed",
                "2:usage error",
                "3:nothing to patch",
                "4:input is not a valid ELF file or archive",
                "5:refused for safety (checksum mismatch, incompatible shim, site too short, target changed, unsafe install location)"})
public final class Main implements Runnable {
    @Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
            description = "print the full stack trace of an error")
    boolean debug;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }

    public static void main(String[] args) {
        System.exit(execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the tool with the given streams; returns the exit status. */
    public static int execute(PrintWriter stdout, PrintWriter err, String... args) {
        boolean[] wrote = {false};
        PrintWriter out = new PrintWriter(new java.io.FilterWriter(stdout) {
            @Override public void write(int c) throws IOException { wrote[0] = true; super.write(c); }
            @Override public void write(char[] b, int off, int len) throws IOException { wrote[0] |= len > 0; super.write(b, off, len); }
            @Override public void write(String str, int off, int len) throws IOException { wrote[0] |= len > 0; super.write(str, off, len); }
        }, true);
        CommandLine cmd = new CommandLine(new Main());
        cmd.setOut(out);
        cmd.setErr(err);
        cmd.setParameterExceptionHandler((ex, a) -> {
            err.println("ollama-patch: " + ex.getMessage());
            err.println("try 'ollama-patch " + (ex.getCommandLine() == cmd ? "" : ex.getCommandLine().getCommandName() + " ")
                    + "--help'");
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

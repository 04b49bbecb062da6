package dev.ollamapatch.cli;

import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.patch.PatchException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;

/** The command line: a thin layer over the patcher library. */
@Command(name = "ollama-patch", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Makes Ollama load a replacement NVML (a shim) by retargeting, inside its binaries, "
                + "the strings that name libnvidia-ml.so.1.",
        subcommands = {ScanCommand.class, ApplyCommand.class, VerifyCommand.class, RestoreCommand.class,
                InspectCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
                "0:done (patched, already patched, or a dry run with sites)",
                "1:failed (I/O or verification); nothing changed",
                "2:usage error",
                "3:nothing to patch",
                "4:input is not a valid ELF file or archive",
                "5:refused for safety (checksum mismatch, incompatible shim, site too short, target changed)"})
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
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
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
            err.println("ollama-patch: " + oneLine(ex));
            err.flush();
            return exitCode(ex);
        });
        int code = cmd.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    static int exitCode(Throwable ex) {
        if (ex instanceof PatchException p) return p.kind().exitCode;
        if (ex instanceof ElfFormatException) return ExitCodes.INVALID_INPUT;
        return ExitCodes.FAILED;
    }

    static String oneLine(Throwable ex) {
        String msg = ex.getMessage();
        if (ex instanceof UncheckedIOException u && u.getCause() != null) msg = u.getCause().toString();
        else if (ex instanceof IOException || msg == null) msg = ex.toString();
        return msg.replace('\n', ' ');
    }
}

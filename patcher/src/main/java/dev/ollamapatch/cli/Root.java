package dev.ollamapatch.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The tool's own command: its options and exit codes; {@link Main} adds the subcommands. */
@Command(name = "ollama-patch", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Makes Ollama load a replacement NVML (a shim) by retargeting, inside its binaries, "
                + "the strings that name libnvidia-ml.so.1.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
                "0:done (patched, already patched, or a dry run with sites)",
                "1:failed (I/O or verification); nothing changed",
                "2:usage error",
                "3:nothing to patch",
                "4:input is not a valid ELF file or archive",
                "5:refused for safety (checksum mismatch, incompatible shim, site too short, target changed, unsafe install location)"})
class Root implements Runnable {
    @Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
            description = "print the full stack trace of an error")
    boolean debug;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }
}

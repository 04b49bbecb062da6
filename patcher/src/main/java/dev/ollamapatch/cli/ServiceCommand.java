package dev.ollamapatch.cli;

import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.service.DropInFiles;
import dev.ollamapatch.service.OllamaUnit;
import dev.ollamapatch.service.SystemdDropIn;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** {@code service install|remove|status}: keep the patch across Ollama upgrades with a systemd drop-in. */
@Command(name = "service", mixinStandardHelpOptions = true,
        description = "Keep Ollama patched across upgrades: a systemd drop-in for ollama.service runs "
                + "'ollama-patch apply --quiet TARGET' as root before every start (a failure is logged and "
                + "Ollama starts unpatched).",
        footerHeading = "%nExamples:%n",
        footer = {"  sudo ollama-patch service install            # the install that ollama.service starts",
                "  sudo ollama-patch service install /usr/local",
                "  ollama-patch service status",
                "  sudo ollama-patch service remove"},
        subcommands = {ServiceCommand.Install.class, ServiceCommand.Remove.class, ServiceCommand.Status.class})
final class ServiceCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "say install, remove or status");
    }

    /** Options every service subcommand takes. */
    static class Where {
        @Spec
        CommandSpec spec;

        @Option(names = "--root", paramLabel = "DIR", defaultValue = "/",
                description = "read and write the unit files under DIR as the file system root (tests, mounted images)")
        Path root;

        @Option(names = "--unit", paramLabel = "NAME", defaultValue = "ollama.service",
                description = "the unit that starts Ollama (default: ${DEFAULT-VALUE})")
        String unit;

        OllamaUnit find() {
            return OllamaUnit.find(root, unit);
        }

        /** systemd must re-read units after a change; only on the live system, and only when systemd runs it. */
        void reload(PrintWriter out) {
            if (!root.toAbsolutePath().normalize().toString().equals("/") || !Files.isDirectory(Path.of("/run/systemd/system"))) {
                out.println("run 'systemctl daemon-reload' for systemd to read the change");
                return;
            }
            try {
                Process p = new ProcessBuilder("systemctl", "daemon-reload").inheritIO().start();
                if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) out.println("systemd reloaded its units");
                else out.println("'systemctl daemon-reload' failed; run it yourself");
            } catch (IOException | InterruptedException e) {
                out.println("could not run 'systemctl daemon-reload' (" + e.getMessage() + "); run it yourself");
            }
        }
    }

    @Command(name = "install", mixinStandardHelpOptions = true,
            description = "Write the drop-in (idempotent).",
            footerHeading = "%nExample:%n", footer = "  sudo ollama-patch service install /usr/local")
    static final class Install extends Where implements java.util.concurrent.Callable<Integer> {
        @Parameters(paramLabel = "TARGET", arity = "0..1",
                description = "the Ollama install or binary to keep patched (default: the one the unit's ExecStart= runs)")
        Path target;

        @Option(names = "--command", paramLabel = "PATH",
                description = "the absolute path of ollama-patch the unit runs (default: this one, as its launcher reports it)")
        Path command;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            OllamaUnit unit = find();
            if (unit.unitFile().isEmpty()) {
                throw new PatchException(PatchException.Kind.FAILED, "no " + unit.name() + " under " + root + " (looked in "
                        + String.join(", ", OllamaUnit.LOAD_PATH_TEXT) + "); install Ollama's service first, or name it with --unit");
            }
            Path tool = command != null ? command : Optional.ofNullable(System.getenv("OLLAMA_PATCH_COMMAND")).map(Path::of)
                    .orElseThrow(() -> new PatchException(PatchException.Kind.USAGE,
                            "cannot tell where this ollama-patch is installed; give its absolute path with --command"));
            if (!tool.isAbsolute()) throw new PatchException(PatchException.Kind.USAGE, "--command must be an absolute path: " + tool);
            Path what = target != null ? target.toAbsolutePath().normalize() : unit.target().orElseThrow(() -> new PatchException(
                    PatchException.Kind.USAGE, unit.unitFile().get() + " has no absolute ExecStart= binary; give TARGET"));
            String text = SystemdDropIn.render(tool, what);
            Optional<String> existing = DropInFiles.read(unit.dropIn());
            if (existing.isPresent() && !SystemdDropIn.isOurs(existing.get())) {
                throw new PatchException(PatchException.Kind.REFUSED, unit.dropIn() + " exists and was not written by ollama-patch; "
                        + "move it away first");
            }
            if (existing.isPresent() && existing.get().equals(text)) {
                out.println("already installed: " + unit.dropIn() + " runs '" + tool + " apply --quiet " + what + "'");
                return ExitCodes.OK;
            }
            DropInFiles.write(unit.dropIn(), text);
            out.println("installed " + unit.dropIn() + ": every start of " + unit.name() + " first runs '" + tool
                    + " apply --quiet " + what + "'");
            reload(out);
            return ExitCodes.OK;
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Remove the drop-in.",
            footerHeading = "%nExample:%n", footer = "  sudo ollama-patch service remove")
    static final class Remove extends Where implements java.util.concurrent.Callable<Integer> {
        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            OllamaUnit unit = find();
            Optional<String> existing = DropInFiles.read(unit.dropIn());
            if (existing.isEmpty()) {
                out.println("not installed: no " + unit.dropIn());
                return ExitCodes.OK;
            }
            if (!SystemdDropIn.isOurs(existing.get())) {
                throw new PatchException(PatchException.Kind.REFUSED, unit.dropIn() + " was not written by ollama-patch; left as it is");
            }
            DropInFiles.remove(unit.dropIn());
            out.println("removed " + unit.dropIn() + " (the patched files stay; 'ollama-patch restore' puts the originals back)");
            reload(out);
            return ExitCodes.OK;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Show the unit, the drop-in and what it runs.",
            footerHeading = "%nExample:%n", footer = "  ollama-patch service status")
    static final class Status extends Where implements java.util.concurrent.Callable<Integer> {
        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            OllamaUnit unit = find();
            out.println("unit:    " + unit.unitFile().map(Path::toString).orElse("none named " + unit.name() + " under " + root));
            Optional<String> existing = DropInFiles.read(unit.dropIn());
            if (existing.isEmpty()) {
                out.println("drop-in: not installed (" + unit.dropIn() + ")");
            } else if (!SystemdDropIn.isOurs(existing.get())) {
                out.println("drop-in: " + unit.dropIn() + " exists but was not written by ollama-patch");
            } else {
                out.println("drop-in: installed, " + unit.dropIn());
                out.println("runs:    " + SystemdDropIn.execStartPre(existing.get()).orElse("(no ExecStartPre= line)"));
            }
            unit.target().ifPresent(t -> out.println("starts:  " + t));
            return ExitCodes.OK;
        }
    }
}

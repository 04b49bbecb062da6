package dev.ollamapatch.cli;

import dev.ollamapatch.doctor.Host;
import dev.ollamapatch.doctor.ShimConfigWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code shim-config}: a shim config for the NVIDIA devices of this machine. */
@Command(name = "shim-config", mixinStandardHelpOptions = true,
        footerHeading = "%nExamples:%n",
        footer = {"  ollama-patch shim-config", "  ollama-patch shim-config | sudo tee /etc/ollama-patch/shim.conf"},
        description = "Print a shim config (for /etc/ollama-patch/shim.conf) describing the NVIDIA GPUs found in sysfs, "
                + "with comments on what to check. Exit 0 when at least one GPU was found, 1 otherwise.")
final class ShimConfigCommand implements Callable<Integer> {
    @Option(names = "--root", paramLabel = "DIR", description = "read DIR as the filesystem root (sysfs)")
    Path root = Path.of("/");

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (!java.nio.file.Files.isDirectory(root)) {
            throw new dev.ollamapatch.report.PatchException(dev.ollamapatch.report.PatchException.Kind.USAGE, "--root " + root + ": not a directory");
        }
        ShimConfigWriter.Result r = ShimConfigWriter.write(Host.at(root));
        spec.commandLine().getOut().print(r.text());
        if (r.devices() == 0) {
            spec.commandLine().getErr().println("ollama-patch: no NVIDIA GPU in " + Host.at(root).path("/sys/bus/pci/devices")
                    + "; the config above has no device (attach the GPU to this machine first)");
            return ExitCodes.FAILED;
        }
        return ExitCodes.OK;
    }
}

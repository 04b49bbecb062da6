package dev.ollamapatch.cli;

import dev.ollamapatch.doctor.Check;
import dev.ollamapatch.doctor.Doctor;
import dev.ollamapatch.doctor.DoctorReport;
import dev.ollamapatch.report.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code doctor [TARGET]}: will Ollama use the GPU here, and if not, why not. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        footerHeading = "%nExamples:%n",
        footer = {"  ollama-patch doctor", "  ollama-patch doctor /usr/local --run", "  ollama-patch doctor --json"},
        description = "Check, link by link, whether Ollama will use the GPU on this machine: the install, the shim "
                + "(asked itself), the host (PCI, /dev/nvidia*, libcuda, CPU), Ollama's rules, the running service. "
                + "One line per check; each failing line says the fix. Exit 0 when nothing fails, 1 otherwise.")
final class DoctorCommand implements Callable<Integer> {
    @Parameters(paramLabel = "TARGET", arity = "0..1", description = "the ollama binary or install directory (default: ollama on PATH)")
    Path target;

    @Option(names = "--json", description = "print one JSON document on stdout")
    boolean json;

    @Option(names = "--run", description = "also start the patched Ollama's GPU discovery in its own network namespace, with the shim's trace on")
    boolean run;

    @Option(names = "--root", paramLabel = "DIR", description = "read DIR as the filesystem root for host checks (sysfs, /dev, /proc, /etc)")
    Path root = Path.of("/");

    @Option(names = "--run-timeout", paramLabel = "SECONDS", description = "how long --run lets Ollama run (default: ${DEFAULT-VALUE})")
    int runTimeout = 60;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        if (!java.nio.file.Files.isDirectory(root)) {
            throw new dev.ollamapatch.report.PatchException(dev.ollamapatch.report.PatchException.Kind.USAGE, "--root " + root + ": not a directory");
        }
        List<Check> checks = Doctor.examine(new Doctor.Options(target, root, run, System.getenv(), runTimeout));
        if (json) {
            out.println(Json.MAPPER.writeValueAsString(DoctorReport.json(checks)));
            DoctorReport.text(spec.commandLine().getErr(), checks);
        } else {
            DoctorReport.text(out, checks);
        }
        return Doctor.exitCode(checks);
    }
}

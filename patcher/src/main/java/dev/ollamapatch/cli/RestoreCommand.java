package dev.ollamapatch.cli;

import dev.ollamapatch.install.InstallLayout;
import dev.ollamapatch.install.Restore;
import dev.ollamapatch.report.ApplyOutcome;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code restore TARGET}: put the originals back and remove the shims this tool installed. */
@Command(name = "restore", mixinStandardHelpOptions = true,
        footerHeading = "%nExamples:%n",
        footer = {"  sudo ollama-patch restore /usr/local", "  sudo ollama-patch restore /usr/local/bin/ollama"},
        description = "Put back the originals of a target patched in place (only if each backup matches the "
                + "manifest), remove the shims it installed and the manifest.")
final class RestoreCommand implements Callable<Integer> {
    @Parameters(paramLabel = "TARGET", description = "file or directory patched in place")
    Path target;

    @Option(names = "--force", description = "restore even where a file changed since it was patched")
    boolean force;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        ApplyOutcome outcome = Restore.run(InstallLayout.of(target), force);
        java.io.PrintWriter err = spec.commandLine().getErr();
        int exit = ExitCodes.of(outcome.ending());
        if (outcome.stopped()) {
            return Reports.failure(spec.commandLine().getOut(), err, false, outcome.messages().get(0), exit);
        }
        for (String line : outcome.messages()) Reports.error(err, line);
        return exit;
    }
}

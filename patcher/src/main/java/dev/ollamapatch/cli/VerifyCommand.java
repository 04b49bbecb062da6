package dev.ollamapatch.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ollamapatch.install.InstallLayout;
import dev.ollamapatch.install.InstallVerifier;
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

/** {@code verify TARGET}: does everything the manifest records still hold? */
@Command(name = "verify", mixinStandardHelpOptions = true,
        footerHeading = "%nExamples:%n",
        footer = {"  ollama-patch verify /usr/local", "  ollama-patch verify /usr/local/bin/ollama --json"},
        description = "Check a target patched in place against its manifest: hashes of patched files, "
                + "backups and shims, and the replacements inside each file.")
final class VerifyCommand implements Callable<Integer> {
    @Parameters(paramLabel = "TARGET", description = "file or directory patched in place")
    Path target;

    @Option(names = "--json", description = "print one JSON document on stdout")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        InstallLayout layout = InstallLayout.of(target);
        List<String> problems = InstallVerifier.verify(layout);
        if (json) {
            ObjectNode n = Json.MAPPER.createObjectNode();
            n.put("target", layout.target().toString());
            n.put("manifest", layout.manifest().toString());
            n.put("ok", problems.isEmpty());
            problems.forEach(n.putArray("differences")::add);
            out.println(Json.MAPPER.writeValueAsString(n));
        }
        PrintWriter text = json ? err : out;
        if (problems.isEmpty()) {
            text.println("verified " + layout.target() + ": every hash and replacement in " + layout.manifest() + " holds");
            return ExitCodes.OK;
        }
        for (String p : problems) text.println("difference: " + p);
        text.println(problems.size() + " difference" + (problems.size() == 1 ? "" : "s") + " in " + layout.target());
        return ExitCodes.FAILED;
    }
}

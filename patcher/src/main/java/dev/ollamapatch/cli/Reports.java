package dev.ollamapatch.cli;

import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.Json;
import dev.ollamapatch.report.JsonReport;
import dev.ollamapatch.report.TextReport;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/** Where reports go: text on stdout, or JSON on stdout with the text on stderr. */
final class Reports {
    /** A writer that drops what it is given (quiet runs still write --report files). */
    static final PrintWriter NOWHERE = new PrintWriter(java.io.Writer.nullWriter());

    private Reports() {}

    static void print(PrintWriter out, PrintWriter err, List<FileReport> files, boolean json, boolean dryRun) {
        String text = TextReport.render(files, dryRun);
        if (json) {
            err.print(text);
            out.println(jsonText(files, dryRun));
        } else {
            out.print(text);
        }
        out.flush();
        err.flush();
    }

    static String jsonText(List<FileReport> files, boolean dryRun) {
        try {
            return Json.MAPPER.writeValueAsString(JsonReport.build(files, Version.tool(), dryRun));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void writeJson(Path file, List<FileReport> files, boolean dryRun) throws IOException {
        byte[] bytes = (jsonText(files, dryRun) + "\n").getBytes(StandardCharsets.UTF_8);
        AtomicFiles.install(new ByteArrayInputStream(bytes), file.toAbsolutePath(), "rw-r--r--");
    }

    static void error(PrintWriter err, String line) {
        err.println("ollama-patch: " + line);
    }

    /**
     * A run that ends without a report (a failure, or a refusal before any file): its line on stderr
     * and, with {@code --json} when nothing was printed on stdout yet, a JSON document naming it, since
     * --json promises one document. Returns {@code exitCode}.
     */
    static int failure(PrintWriter out, PrintWriter err, boolean json, String line, int exitCode) {
        error(err, line);
        err.flush();
        if (json) {
            var n = Json.MAPPER.createObjectNode();
            n.put("error", line);
            n.put("exit_code", exitCode);
            out.println(n.toString());
            out.flush();
        }
        return exitCode;
    }
}

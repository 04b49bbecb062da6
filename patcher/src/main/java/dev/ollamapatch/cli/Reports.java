package dev.ollamapatch.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.report.FileReport;
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
    private Reports() {}

    static void print(PrintWriter out, PrintWriter err, List<FileReport> files, boolean json, boolean dryRun) {
        print(out, err, files, null, json, dryRun);
    }

    /** {@code archives}: parallel to {@code files}, the archive each entry came from (null: a plain file). */
    static void print(PrintWriter out, PrintWriter err, List<FileReport> files, List<String> archives, boolean json,
                      boolean dryRun) {
        String text = TextReport.render(files, dryRun);
        if (json) {
            err.print(text);
            out.println(jsonText(files, archives, dryRun));
        } else {
            out.print(text);
        }
        out.flush();
        err.flush();
    }

    static String jsonText(List<FileReport> files, boolean dryRun) {
        return jsonText(files, null, dryRun);
    }

    static String jsonText(List<FileReport> files, List<String> archives, boolean dryRun) {
        try {
            ObjectNode root = JsonReport.build(files, Version.tool(), dryRun);
            for (int i = 0; archives != null && i < files.size(); i++) {
                if (archives.get(i) != null) ((ObjectNode) root.get("files").get(i)).put("archive", archives.get(i));
            }
            return JsonReport.MAPPER.writeValueAsString(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void writeJson(Path file, List<FileReport> files, boolean dryRun) throws IOException {
        writeJson(file, files, null, dryRun);
    }

    static void writeJson(Path file, List<FileReport> files, List<String> archives, boolean dryRun) throws IOException {
        byte[] bytes = (jsonText(files, archives, dryRun) + "\n").getBytes(StandardCharsets.UTF_8);
        AtomicFiles.install(new ByteArrayInputStream(bytes), file.toAbsolutePath(), "rw-r--r--");
    }

    static void error(PrintWriter err, String line) {
        err.println("ollama-patch: " + line);
    }
}

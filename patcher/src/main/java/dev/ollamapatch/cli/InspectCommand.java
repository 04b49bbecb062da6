package dev.ollamapatch.cli;

import dev.ollamapatch.report.ElfSummary;
import dev.ollamapatch.report.Json;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.report.PatchException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code inspect FILE}: an ELF summary (header, segments, sections, dynamic entries) in the manner
 * of readelf, or as the JSON of DESIGN.md section 5. Malformed input propagates as
 * ElfFormatException, which Main turns into exit status 4.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        footerHeading = "%nExamples:%n",
        footer = {"  ollama-patch inspect /usr/local/bin/ollama", "  ollama-patch inspect /usr/local/lib/ollama/libggml-base.so --json"},
        description = "Summarise an ELF file: header, segments, sections and dynamic entries.")
public final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "FILE", description = "the ELF file to inspect")
    Path file;

    @Option(names = "--json", description = "print one JSON document on stdout")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (!Files.exists(file)) {
            throw new PatchException(PatchException.Kind.USAGE, file + ": no such file");
        }
        if (!Files.isRegularFile(file)) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT, file + ": not a regular file");
        }
        PrintWriter out = spec.commandLine().getOut();
        String text;
        try (ElfFile elf = ElfFile.open(file)) {
            // Rendered completely before anything is printed: a malformed table fails with one message only.
            text = json ? Json.MAPPER.writeValueAsString(ElfSummary.json(elf))
                    + System.lineSeparator() : ElfSummary.text(elf);
        } catch (ElfFormatException e) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT, file + ": " + e.getMessage(), e);
        }
        out.print(text);
        out.flush();
        return ExitCodes.OK;
    }
}

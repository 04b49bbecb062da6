package dev.ollamapatch.report;

import dev.ollamapatch.elf.ElfFormatException;

import java.util.List;

/**
 * How an apply ended, as a value: how it ended, the lines to tell the user, and the report of every
 * file it decided about (also when it refused). Failures (I/O, usage, invalid input) are exceptions;
 * a refusal is one of the normal endings.
 */
public record ApplyOutcome(Ending ending, List<String> messages, List<FileReport> reports) {
    /** The normal endings; the command line maps them to exit codes. */
    public enum Ending { DONE, NOTHING_TO_PATCH, REFUSED }

    public ApplyOutcome {
        messages = List.copyOf(messages);
        reports = List.copyOf(reports);
    }

    public static ApplyOutcome done(List<String> messages, List<FileReport> reports) {
        return new ApplyOutcome(Ending.DONE, messages, reports);
    }

    public static ApplyOutcome nothingToPatch(List<String> messages, List<FileReport> reports) {
        return new ApplyOutcome(Ending.NOTHING_TO_PATCH, messages, reports);
    }

    /** Refused for safety: {@code line} names the file and why; control characters in it are escaped. */
    public static ApplyOutcome refused(String line, List<FileReport> reports) {
        return new ApplyOutcome(Ending.REFUSED, List.of(ElfFormatException.oneLine(line)), reports);
    }
}

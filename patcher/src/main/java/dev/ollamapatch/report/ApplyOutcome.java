package dev.ollamapatch.report;

import dev.ollamapatch.elf.ElfFormatException;

import java.util.List;

/**
 * How an apply ended, as a value: how it ended, the lines to tell the user, and the report of every
 * file it decided about (also when it refused). Failures (I/O, usage, invalid input) are exceptions;
 * a refusal is one of the normal endings.
 *
 * @param stopped the run stopped on a precondition before deciding about any file ({@link Refusal}):
 *                its one line is told as a failure is (with {@code --json}, as an error document)
 */
public record ApplyOutcome(Ending ending, List<String> messages, List<FileReport> reports, boolean stopped) {
    /** The normal endings; the command line maps them to exit codes. */
    public enum Ending {
        DONE, NOTHING_TO_PATCH, REFUSED,
        /** another run holds the target's lock */
        BUSY
    }

    public ApplyOutcome {
        messages = List.copyOf(messages);
        reports = List.copyOf(reports);
    }

    public ApplyOutcome(Ending ending, List<String> messages, List<FileReport> reports) {
        this(ending, messages, reports, false);
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

    /** Stopped on a precondition, before any file. */
    public static ApplyOutcome stopped(Refusal r) {
        return new ApplyOutcome(r.ending(), List.of(ElfFormatException.oneLine(r.line())), List.of(), true);
    }
}

package dev.ollamapatch.elf;

/**
 * The input is not a well-formed ELF file. The message is one line naming the offending field,
 * its value and where it sits in the file, so a user can check it with a hex dump.
 */
public final class ElfFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ElfFormatException(String message) {
        super(message);
    }
}

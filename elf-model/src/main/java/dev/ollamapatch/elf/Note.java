package dev.ollamapatch.elf;

/**
 * One ELF note. {@code name} is without its terminating NUL; {@code fileOffset} is where the note's
 * header (n_namesz) starts in the file. The descriptor array is a defensive copy on every access.
 */
public record Note(String name, long type, byte[] descriptor, long fileOffset) {
    public Note {
        descriptor = descriptor.clone();
    }

    @Override
    public byte[] descriptor() {
        return descriptor.clone();
    }
}

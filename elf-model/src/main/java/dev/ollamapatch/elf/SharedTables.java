package dev.ollamapatch.elf;

import java.util.Map;
import java.util.WeakHashMap;
import java.util.function.Supplier;

/**
 * Tables parsed from one unchanged file, shared by every {@link ElfFile} opened from it: a command
 * often maps a file twice (once for its decision, once as a member of the install the loader's
 * resolution reads), and a large program's relocation table (152 000 entries in a release Ollama
 * binary) is then parsed once. Instances are found by the file's status when opened
 * ({@link ElfFile#openedFileStatus}), so a file changed in between gets tables of its own; the values
 * are immutable. An entry lives as long as the status object of the first instance that made it.
 */
final class SharedTables {
    private static final Map<FileStamp, SharedTables> BY_FILE = new WeakHashMap<>();

    final Slot<java.util.List<Relocation>> relocations = new Slot<>();
    final Slot<java.util.List<Relocation>> symbolRelocations = new Slot<>();
    final Slot<RelativeRelocations> relative = new Slot<>();

    private SharedTables() {}

    /** The tables of the file {@code status} describes; null (nothing shared) without a status. */
    static SharedTables of(FileStamp status) {
        if (status == null) return null;
        synchronized (BY_FILE) {
            return BY_FILE.computeIfAbsent(status, k -> new SharedTables());
        }
    }

    /**
     * One table: parsed by the first instance that asks, through its own reader (its mapping is open
     * while it parses); another instance asking meanwhile waits for that result instead of parsing again.
     * A parse that fails is not kept: each instance then parses, and fails, in its own words.
     */
    static final class Slot<T> {
        private T value;

        synchronized T get(Supplier<T> parse) {
            if (value == null) value = parse.get();
            return value;
        }
    }
}

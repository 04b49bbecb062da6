package dev.ollamapatch.elf;

/** One Elf_Vernaux: a version name required from the enclosing VersionNeed's file. */
public record VersionNeedAux(String name, long nameIndex, long hash, int flags, int other) {
}

package dev.ollamapatch.elf;

import java.util.List;

/** One Elf_Verneed: a needed file and the versions required from it. */
public record VersionNeed(String file, long fileIndex, List<VersionNeedAux> aux) {
    public VersionNeed {
        aux = List.copyOf(aux);
    }
}

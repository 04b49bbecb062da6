package dev.ollamapatch.plan;

import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.ScanResult;
import dev.ollamapatch.elf.ByteEdit;

import java.util.List;

/** The complete, pure decision for one file: what is written where, and what is refused. */
public record Plan(ScanResult scan, List<PlannedSite> sites) {
    public Plan {
        sites = List.copyOf(sites);
    }

    public List<PlannedSite> retargeted() {
        return sites.stream().filter(p -> p.action() == Action.RETARGET).toList();
    }

    public List<PlannedSite> refused() {
        return sites.stream().filter(p -> p.action() == Action.REFUSE).toList();
    }

    public List<PlannedSite> skipped() {
        return sites.stream().filter(p -> p.action() == Action.SKIP).toList();
    }

    public boolean isRefused() { return !refused().isEmpty(); }

    /** Whether some site of {@code library} is rewritten (so its shim must be installed). */
    public boolean retargets(LibraryTarget library) {
        return retargeted().stream().anyMatch(p -> p.site().library().name().equals(library.name()));
    }

    public boolean hasWork() { return !retargeted().isEmpty(); }

    /** The same-length edits that carry out this plan. */
    public List<ByteEdit> edits() {
        return retargeted().stream().map(p -> new ByteEdit(p.site().offset(), p.replacement())).toList();
    }
}

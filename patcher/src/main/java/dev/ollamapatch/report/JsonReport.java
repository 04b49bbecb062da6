package dev.ollamapatch.report;

import dev.ollamapatch.plan.PlannedSite;
import dev.ollamapatch.site.Site;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/** The machine-readable report of DESIGN.md section 5 (plus evidence, sections and status). */
public final class JsonReport {
    private JsonReport() {}

    public static ObjectNode build(List<FileReport> files, String tool, boolean dryRun) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("tool", tool);
        root.put("dry_run", dryRun);
        ArrayNode arr = root.putArray("files");
        for (FileReport f : files) arr.add(file(f));
        return root;
    }

    /**
     * Where the loader looks for a site: {@code opens} the files it opens (for a retargeted site: where the
     * shim is installed), {@code directories} what $ORIGIN stands for, {@code caller} and {@code call_at} the
     * object and address of the dlopen call, {@code how}, {@code detail}, and {@code blocker} when $ORIGIN is
     * not expanded at all.
     */
    static ObjectNode resolution(PlannedSite p) {
        dev.ollamapatch.resolve.Resolution r = p.resolution();
        ObjectNode o = Json.MAPPER.createObjectNode();
        ArrayNode opens = o.putArray("opens");
        if (!p.shims().isEmpty()) p.shims().forEach(x -> opens.add(x.toString()));
        else if (r.originWorks()) r.directories().forEach(d -> opens.add(d.resolve(TextReport.shimName(p)).toString()));
        ArrayNode dirs = o.putArray("directories");
        r.directories().forEach(d -> dirs.add(d.toString()));
        if (r.caller() != null) o.put("caller", r.caller().toString()); else o.putNull("caller");
        if (r.callAt() >= 0) o.put("call_at", r.callAt()); else o.putNull("call_at");
        o.put("how", r.how().label());
        o.put("detail", r.detail());
        if (r.blocker() != null) o.put("blocker", r.blocker()); else o.putNull("blocker");
        return o;
    }

    static ObjectNode file(FileReport f) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("path", f.path());
        n.put("sha256", f.sha256());
        n.put("machine", f.plan().scan().machine());
        n.put("go", f.plan().scan().go());
        n.put("status", f.status().label());
        if (f.identity() != null) n.set("ollama", IdentityText.json(f.identity()));
        ArrayNode sites = n.putArray("sites");
        for (PlannedSite p : f.plan().sites()) {
            Site s = p.site();
            ObjectNode o = sites.addObject();
            o.put("offset", s.offset());
            o.put("length", s.length());
            o.put("kind", s.kind().label());
            o.put("original", s.original());
            o.put("replacement", p.replacementText());
            o.put("action", p.action().label());
            if (p.reason() != null) o.put("reason", p.reason()); else o.putNull("reason");
            o.put("library", s.library().name());
            o.put("role", s.role().name().toLowerCase());
            o.put("section", s.section());
            if (s.vaddr() >= 0) o.put("vaddr", s.vaddr()); else o.putNull("vaddr");
            ArrayNode ev = o.putArray("evidence");
            s.evidence().forEach(ev::add);
            ArrayNode inner = o.putArray("inner_refs");
            s.innerRefs().forEach(inner::add);
            if (p.resolution() != null) o.set("resolution", resolution(p));
        }
        if (f.shim() != null) {
            ObjectNode shim = n.putObject("shim");
            shim.put("name", f.shim().shim());
            shim.put("ok", f.shim().ok());
            ObjectNode fns = shim.putObject("functions");
            f.shim().functions().forEach(fns::put);
            ArrayNode problems = shim.putArray("problems");
            f.shim().problems().forEach(problems::add);
        }
        if (f.output() != null) n.put("output", f.output());
        if (f.patchedSha256() != null) n.put("patched_sha256", f.patchedSha256());
        if (f.archive() != null) n.put("archive", f.archive());
        return n;
    }
}

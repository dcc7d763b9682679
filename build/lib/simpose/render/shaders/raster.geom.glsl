#version 330 core
uniform vec3 light_dir;
uniform vec3 light_color;
uniform float light_intensity;
uniform float ambient;
layout(triangles) in;
layout(triangle_strip, max_vertices = 3) out;
in VertexData { vec3 pos; vec3 next_h; vec3 color; vec3 normal; } gs_in[];
out vec3 f_next_h;
out vec3 f_color;
out vec2 f_bary12;
void main() {
    vec3 ng = cross(gs_in[1].pos - gs_in[0].pos, gs_in[2].pos - gs_in[0].pos);
    if (dot(ng, gs_in[0].pos) > 0.0) ng = -ng;
    for (int i = 0; i < 3; ++i) {
        vec3 n = gs_in[i].normal;
        if (dot(n, n) < 1e-24) n = ng;
        if (dot(n, ng) < 0.0) n = -n;
        float diffuse = max(dot(normalize(n), -light_dir), 0.0);
        gl_Position = gl_in[i].gl_Position;
        gl_PrimitiveID = gl_PrimitiveIDIn;
        f_next_h = gs_in[i].next_h;
        f_color = gs_in[i].color * (ambient + light_intensity * diffuse * light_color);
        f_bary12 = vec2(i == 1, i == 2);
        EmitVertex();
    }
    EndPrimitive();
}

#version 330 core
uniform mat4 proj;
uniform mat3 K_next;
in vec3 in_pos;
in vec3 in_next;
in vec3 in_color;
in vec3 in_normal;
out VertexData { vec3 pos; vec3 next_h; vec3 color; vec3 normal; } vs_out;
void main() {
    vs_out.pos = in_pos;
    vs_out.next_h = K_next * in_next;  // homogeneous next pixel: affine in the vertex, so it
                                       // interpolates perspective-correctly like a position
    vs_out.color = in_color;
    vs_out.normal = in_normal;
    gl_Position = proj * vec4(in_pos, 1.0);
}
